pub mod hash;
pub mod indexed;
pub mod set;
