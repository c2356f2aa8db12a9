pub mod description_editor;
pub mod form_error;
pub mod shell;
