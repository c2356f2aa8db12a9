pub mod form_error;
pub mod shell;
