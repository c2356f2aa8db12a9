pub mod description_editor;
pub mod escalation_card;
pub mod form_error;
pub mod live;
pub mod shell;
pub mod time;
pub mod url;
pub mod widget;
