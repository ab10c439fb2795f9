//! The `logger_*!` macros: structured log lines written the way the
//! official crate's macros take them, `key = value` attributes first and then
//! a message or a format string with its arguments.
//!
//! A format string is kept as the line's `sentry.message.template` and each
//! argument as `sentry.message.parameter.N`, so Sentry can group lines by
//! template. Arguments are evaluated once, and not at all while no line
//! would be sent (no client, or logs off), as with the `log` crate's macros.
//! A value that converts into a JSON
//! value (numbers, booleans, strings), or a reference to one, keeps its
//! type; `None` and a NaN go as their `Debug` text, an integer past
//! `i64::MAX` as its digits; any other `Display` value (an error, say) is
//! sent as its text. Lines go out only with
//! [`ClientOptions::enable_logs`](crate::ClientOptions) on (see
//! [`crate::logs`]).
//!
//! ```
//! use sentry_core::{logger_info, logger_warn, ClientOptions};
//! use sentry_core::test::{logs_of, with_captured_envelopes_options};
//!
//! let envelopes = with_captured_envelopes_options(|| {
//!     let user = "ada";
//!     logger_info!("cache warmed");
//!     logger_warn!(db.table = "orders", attempt = 3, "slow query for {} after {} ms", user, 812);
//! }, ClientOptions { enable_logs: true, ..Default::default() });
//! let lines = logs_of(&envelopes);
//! assert_eq!(lines[1]["body"], "slow query for ada after 812 ms");
//! assert_eq!(lines[1]["attributes"]["sentry.message.template"]["value"], "slow query for {} after {} ms");
//! assert_eq!(lines[1]["attributes"]["sentry.message.parameter.1"]["value"], 812);
//! assert_eq!(lines[1]["attributes"]["db.table"]["value"], "orders");
//! ```

use std::fmt::{Debug, Display};

use serde_json::Value;

use crate::protocol::LogAttribute;

/// What the macros expand to; not an API.
#[doc(hidden)]
pub mod __private {
    pub use super::{AsDisplay, AsValue, AsValueRef, Param};
}

/// A macro argument on its way to becoming an attribute. Three traits
/// turn it into one, found by method lookup on `&&&Param` in this order
/// (each at its own step, so never two at once): [`AsValue`] for a value
/// with a JSON form, [`AsValueRef`] for a reference to one (`&i32`,
/// `&String`), [`AsDisplay`] for any other `Display` value, sent as text. A
/// value whose JSON form is `null` (`None`, a NaN) is sent as its `Debug`
/// text.
#[doc(hidden)]
pub struct Param<'a, T: ?Sized>(pub &'a T);

fn json_attribute<T: Clone + Into<Value> + Debug>(value: &T) -> LogAttribute {
    match value.clone().into() {
        Value::Null => LogAttribute::from(format!("{value:?}")),
        json => LogAttribute(json),
    }
}

#[doc(hidden)]
pub trait AsValue {
    fn attribute(&self) -> LogAttribute;
}

impl<T: Clone + Into<Value> + Debug> AsValue for &&Param<'_, T> {
    fn attribute(&self) -> LogAttribute {
        json_attribute(self.0)
    }
}

#[doc(hidden)]
pub trait AsValueRef {
    fn attribute(&self) -> LogAttribute;
}

impl<T: Clone + Into<Value> + Debug> AsValueRef for &Param<'_, &T> {
    fn attribute(&self) -> LogAttribute {
        json_attribute(*self.0)
    }
}

#[doc(hidden)]
pub trait AsDisplay {
    fn attribute(&self) -> LogAttribute;
}

impl<T: Display + ?Sized> AsDisplay for Param<'_, T> {
    fn attribute(&self) -> LogAttribute {
        LogAttribute::from(self.0.to_string())
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __logger_log {
    // `key.path = value,` attributes, one at a time.
    (@attrs $attrs:ident, $level:expr; $($key:ident).+ = $value:expr, $($rest:tt)+) => {{
        let value = &$value;
        $attrs.insert(
            ::std::string::String::from(::core::stringify!($($key).+)),
            {
                #[allow(unused_imports)]
                use $crate::log_macros::__private::{AsDisplay as _, AsValue as _, AsValueRef as _};
                (&&&$crate::log_macros::__private::Param(value)).attribute()
            },
        );
        $crate::__logger_log!(@attrs $attrs, $level; $($rest)+)
    }};
    // A message without arguments (captured identifiers are formatted).
    (@attrs $attrs:ident, $level:expr; $msg:literal $(,)?) => {{
        $crate::__logger_log!(@send $attrs, $level, ::std::format!($msg))
    }};
    // A format string: its arguments are bound one by one first.
    (@attrs $attrs:ident, $level:expr; $fmt:literal, $($arg:expr),+ $(,)?) => {{
        $crate::__logger_log!(@bind $attrs, $level, $fmt; []; $($arg),+)
    }};
    (@bind $attrs:ident, $level:expr, $fmt:literal; [$($bound:ident)*]; $first:expr $(, $rest:expr)*) => {{
        // Each expansion's `arg` is a name of its own (hygiene).
        let arg = &$first;
        $crate::__logger_log!(@bind $attrs, $level, $fmt; [$($bound)* arg]; $($rest),*)
    }};
    (@bind $attrs:ident, $level:expr, $fmt:literal; [$($bound:ident)*];) => {{
        #[allow(unused_imports)]
        use $crate::log_macros::__private::{AsDisplay as _, AsValue as _, AsValueRef as _};
        $attrs.insert(
            ::std::string::String::from("sentry.message.template"),
            $crate::protocol::LogAttribute::from($fmt),
        );
        let mut index = 0usize;
        $(
            $attrs.insert(
                ::std::format!("sentry.message.parameter.{index}"),
                (&&&$crate::log_macros::__private::Param($bound)).attribute(),
            );
            index += 1;
        )*
        let _ = index;
        $crate::__logger_log!(@send $attrs, $level, ::std::format!($fmt, $($bound),*))
    }};
    (@send $attrs:ident, $level:expr, $body:expr) => {{
        let mut line = $crate::protocol::Log::new($level, $body);
        line.attributes.extend($attrs);
        $crate::logs::capture_log(line)
    }};
    ($level:expr; $($rest:tt)+) => {{
        // Nothing is formatted or evaluated when no line would be sent.
        if $crate::logs::enabled() {
            let mut attributes = ::std::collections::BTreeMap::<
                ::std::string::String,
                $crate::protocol::LogAttribute,
            >::new();
            $crate::__logger_log!(@attrs attributes, $level; $($rest)+)
        }
    }};
}

/// Logs a line at `trace`: `logger_trace!(key = value, ..., "format {}", arg, ...)`
/// (see the [module documentation](crate::log_macros)).
#[macro_export]
macro_rules! logger_trace {
    ($($rest:tt)+) => {
        $crate::__logger_log!($crate::protocol::LogLevel::Trace; $($rest)+)
    };
}

/// Logs a line at `debug`: `logger_debug!(key = value, ..., "format {}", arg, ...)`
/// (see the [module documentation](crate::log_macros)).
#[macro_export]
macro_rules! logger_debug {
    ($($rest:tt)+) => {
        $crate::__logger_log!($crate::protocol::LogLevel::Debug; $($rest)+)
    };
}

/// Logs a line at `info`: `logger_info!(key = value, ..., "format {}", arg, ...)`
/// (see the [module documentation](crate::log_macros)).
#[macro_export]
macro_rules! logger_info {
    ($($rest:tt)+) => {
        $crate::__logger_log!($crate::protocol::LogLevel::Info; $($rest)+)
    };
}

/// Logs a line at `warn`: `logger_warn!(key = value, ..., "format {}", arg, ...)`
/// (see the [module documentation](crate::log_macros)).
#[macro_export]
macro_rules! logger_warn {
    ($($rest:tt)+) => {
        $crate::__logger_log!($crate::protocol::LogLevel::Warn; $($rest)+)
    };
}

/// Logs a line at `error`: `logger_error!(key = value, ..., "format {}", arg, ...)`
/// (see the [module documentation](crate::log_macros)).
#[macro_export]
macro_rules! logger_error {
    ($($rest:tt)+) => {
        $crate::__logger_log!($crate::protocol::LogLevel::Error; $($rest)+)
    };
}

/// Logs a line at `fatal`: `logger_fatal!(key = value, ..., "format {}", arg, ...)`
/// (see the [module documentation](crate::log_macros)).
#[macro_export]
macro_rules! logger_fatal {
    ($($rest:tt)+) => {
        $crate::__logger_log!($crate::protocol::LogLevel::Fatal; $($rest)+)
    };
}
