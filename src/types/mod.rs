pub mod hash;
pub mod indexed;
pub mod list;
pub mod set;
