//! `foreign-import`, a test component that imports an interface no broker provides
//! (`example:missing/clock`), for the upload check that refuses it before compiling.
//! It is built from its own inline world, not from `wit/plugin.wit`: what it exports
//! does not matter, the import is refused first.

/// The generated bindings of the inline world.
#[allow(missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        inline: r"
            package example:missing@0.1.0;

            interface clock {
                ticks: func() -> u64;
            }

            world foreign-import {
                import clock;
                export run: func() -> u64;
            }
        ",
    });
}

/// The component.
struct ForeignImport;

impl bindings::Guest for ForeignImport {
    fn run() -> u64 {
        bindings::example::missing::clock::ticks()
    }
}

bindings::export!(ForeignImport with_types_in bindings);
