//! The wire: cutting requests out of the read buffer and encoding replies.

pub mod encode;
pub mod inline;
pub mod json;
pub mod reply;
pub mod request;

pub use encode::{encode, Resp};
pub use json::encode_json;
pub use reply::Reply;
pub use request::{
    borrow_args, own_args, peek, Args, Limits, ProtocolError, Request, RequestParser,
};
