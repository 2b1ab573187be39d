#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_fuzz::budget::run_bounded(
    data,
    weir_fuzz::targets::message_list
));
