//! The three worlds a module can claim, and what each must export. The type is the
//! API's ([`weir_wire::plugin::World`]): its names are what the broker stores and answers.

pub use weir_wire::plugin::World;

/// Every world, for listings and error messages.
pub const WORLDS: [World; 3] = World::ALL;
