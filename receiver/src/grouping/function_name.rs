//! Function names reduced to what identifies the function, before grouping
//! (PROTOCOL.md §10.1 step 2).
//!
//! Native SDKs (sentry-native, crashpad, Cocoa, our Rust SDK) send the whole
//! demangled signature: `void ns::Widget<int>::draw(Canvas&) const`. Sentry
//! groups by the function alone, `ns::Widget<T>::draw`, so that a changed
//! return type, argument list or template argument does not split an issue.
//! It does this while normalising stack traces for grouping, for frames
//! without a `raw_function` (the SDK did not trim already): the trimmed
//! name becomes `function` and the sent one `raw_function`. C# signatures
//! lose their argument list the same way.
//!
//! The rules follow Sentry's (`trim_native_function_name`), including its
//! corner cases, because they decide hashes that must match Sentry's:
//!
//! * Objective-C methods (`-[Foo bar:]`) are left alone;
//! * `[clone .cold]`-style annotations, trailing `const` and `&` go;
//! * lambdas of gcc (`{lambda(int)#1}`), msvc (`lambda_<32 hex>`) and clang
//!   (`$_0`) are all called `lambda`, msvc's hashed anonymous namespaces
//!   (`?A0x1234abcd::`) become `` `anonymous namespace' ``;
//! * argument lists are removed (except `(anonymous namespace)`);
//! * template arguments become `<T>`; a leading `<A as B>` (a Rust trait
//!   implementation) becomes `A`;
//! * of what is left, the function is the last word, or the word before a
//!   Swift `->` return arrow (skipping `throws`); Swift closures and
//!   initializer expressions get their own names;
//! * a Rust symbol hash (`::h` + 16 characters), glibc symbol versions
//!   (`@@GLIBC_2.2.5`) and Windows `@N` decorations are stripped.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

static LAMBDA: LazyLock<Regex> = LazyLock::new(|| {
    // gcc | msvc | clang
    Regex::new(r"\{lambda\(.*?\)#\d+\}|\blambda_[a-f0-9]{32}\b|\$_\d+\b").expect("lambda pattern")
});
static MSVC_ANONYMOUS_NAMESPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\?A0x[a-f0-9]{8}::").expect("namespace pattern"));
static CPP_TRAILER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\bconst\b|&)$").expect("trailer pattern"));
static RUST_BLANKET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z] as ").expect("blanket pattern"));
static RUST_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"::h[a-z0-9]{16}$").expect("hash pattern"));
static GLIBC_VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"@@?GLIBC_[0-9.]+$").expect("glibc pattern"));
static WINDOWS_DECORATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^@?(.*?)@[0-9]+$").expect("decoration pattern"));

/// The longest name (in bytes) that is trimmed: 256 characters of up to
/// four bytes, with Relay's allowance of 20.
const MAX_TRIMMED_LEN: usize = 276 * 4;

/// Stand-ins for operators and markers whose characters would upset the
/// bracket matching below; none of them occurs in a real symbol.
const PROTECTED: [(&str, &str); 6] = [
    ("operator<<", "operator⟨⟨"),
    ("operator<", "operator⟨"),
    ("operator()", "operator◯"),
    ("operator->", "operator⟿"),
    (" -> ", " ⟿ "),
    ("`anonymous namespace'", "〔anonymousnamespace〕"),
];

/// The function name grouping uses for a frame of `platform` that came
/// without `raw_function`, or `None` when it keeps the name it was sent.
///
/// ```text
/// trimmed("void ns::Widget<int>::draw(Canvas&) const", "native")
///     == Some("ns::Widget<T>::draw")
/// ```
pub(crate) fn trimmed<'a>(function: &'a str, platform: &str) -> Option<Cow<'a, str>> {
    // Ingestion cuts names to 256 characters first, as Relay does
    // (`ingest::trim`); a longer one comes from a direct caller and is left
    // alone rather than walked bracket by bracket.
    if function.len() > MAX_TRIMMED_LEN {
        return None;
    }
    let trimmed = match platform {
        "csharp" => Cow::Borrowed(function.split(" (").next().unwrap_or(function)),
        // Sentry's native family; not `rust`, which counts as native for
        // the receiver's stack-trace rules but which Sentry leaves as sent.
        "objc" | "cocoa" | "swift" | "native" | "c" => native(function, platform),
        _ => return None,
    };
    (trimmed != function).then_some(trimmed)
}

/// Sentry's `trim_native_function_name`, with `normalize_lambdas` on.
fn native<'a>(original: &'a str, platform: &str) -> Cow<'a, str> {
    if matches!(original, "<redacted>" | "<unknown>") {
        return Cow::Borrowed(original);
    }
    let stripped = original.trim();
    if stripped.starts_with('[') || stripped.starts_with("+[") || stripped.starts_with("-[") {
        return Cow::Borrowed(stripped);
    }

    let mut function = replace_enclosed(stripped, '[', ']', &mut |inner, _| {
        if inner.starts_with("clone .") {
            String::new()
        } else {
            format!("[{inner}]")
        }
    });
    function.truncate(function.trim_end().len());
    while let Some(m) = CPP_TRAILER.find(&function) {
        let end = function[..m.start()].trim_end().len();
        function.truncate(end);
    }
    for (from, to) in PROTECTED {
        if function.contains(from) {
            function = function.replace(from, to);
        }
    }
    if function.contains("lambda") || function.contains("$_") {
        function = LAMBDA.replace_all(&function, "lambda").into_owned();
    }
    if function.contains("?A0x") {
        function = MSVC_ANONYMOUS_NAMESPACE
            .replace_all(&function, "〔anonymousnamespace〕::")
            .into_owned();
    }
    function = replace_enclosed(&function, '(', ')', &mut |inner, _| {
        let inner = inner.trim();
        if matches!(inner, "anonymous namespace" | "operator") {
            format!("({inner})")
        } else {
            String::new()
        }
    });
    function = replace_enclosed(&function, '<', '>', &mut generics);

    let Some(token) = function_token(&function, platform) else {
        return Cow::Borrowed(original);
    };
    let mut name = token
        .replace('⟨', "<")
        .replace('◯', "()")
        .replace('⟿', "->")
        .replace("〔anonymousnamespace〕", "`anonymous namespace'");
    if name.contains("::h") {
        name = RUST_HASH.replace(&name, "").into_owned();
    }
    if name.contains("@GLIBC_") {
        name = GLIBC_VERSION.replace(&name, "").into_owned();
    }
    if name.contains('@') {
        name = WINDOWS_DECORATION.replace(&name, "$1").into_owned();
    }
    Cow::Owned(name)
}

/// A template argument list at `start` in its string: `<T>`, except that a
/// leading one (a Rust `<Type as Trait>`) names the type, and lambdas stay.
fn generics(inner: &str, start: usize) -> String {
    if inner == "lambda" || LAMBDA.find(inner).is_some_and(|m| m.start() == 0) {
        return format!("<{inner}>");
    }
    if start > 0 {
        return "<T>".to_owned();
    }
    let inner = RUST_BLANKET.replace(inner, "");
    let inner = replace_enclosed(&inner, '<', '>', &mut generics);
    match inner.split_once(" as ") {
        Some((ty, _)) => ty.to_owned(),
        None => inner,
    }
}

/// Which word of the signature is the function's name, with Swift's
/// special forms; `None` when there is no word at all.
fn function_token(function: &str, platform: &str) -> Option<String> {
    let mut tokens = split_tokens(function);
    // msvc writes `operator< <T>`: the generics belong to the name.
    if tokens.len() > 1 && tokens.last().is_some_and(|t| t == "<T>") {
        tokens.pop();
        if let Some(last) = tokens.last_mut() {
            last.push_str(" <T>");
        }
    }
    let token = if function.contains("initialization expression of") {
        let of = tokens.iter().rposition(|t| t == "of")?;
        let mut token = tokens.get(of + 1)?.as_str();
        if token == "static" {
            token = tokens.get(of + 2)?;
        }
        let token = token.strip_prefix(':').unwrap_or(token);
        format!("initializer expression of {token}")
    } else {
        arrow_token(&tokens).or_else(|| tokens.last().cloned())?
    };
    if token.is_empty() {
        return None;
    }
    if token.starts_with('@') && matches!(platform, "cocoa" | "swift") {
        let thunk = if function.contains("thunk for ") {
            "thunk for "
        } else {
            ""
        };
        Some(format!("{thunk}closure"))
    } else if token != "closure" && tokens.iter().any(|t| t == "closure") {
        Some(format!("closure in {token}"))
    } else {
        Some(token)
    }
}

/// The word before the last Swift return arrow (before `throws` if that
/// is what precedes it). Indices count from the end when they run below
/// zero, as Sentry's do.
fn arrow_token(tokens: &[String]) -> Option<String> {
    let arrow = tokens.iter().rposition(|t| t == "⟿")?;
    let at = |back: usize| -> Option<&String> {
        let len = tokens.len();
        let i = if arrow >= back {
            arrow - back
        } else {
            (len + arrow).checked_sub(back)?
        };
        tokens.get(i)
    };
    let token = at(1)?;
    if token == "throws" {
        return at(2).cloned();
    }
    Some(token.clone())
}

/// `s` with every outermost `open`…`close` run replaced by what `replace`
/// makes of its inside and start offset. Like Sentry's
/// `replace_enclosed_string`, an unclosed run or a stray `close` drops
/// the rest of the string.
fn replace_enclosed(
    s: &str,
    open: char,
    close: char,
    replace: &mut dyn FnMut(&str, usize) -> String,
) -> String {
    if !s.contains(open) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut depth: i64 = 0;
    let mut run_start = 0;
    for (i, c) in s.char_indices() {
        if c == open {
            if depth == 0 {
                run_start = i;
            }
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                out.push_str(&replace(&s[run_start + open.len_utf8()..i], run_start));
            }
        } else if depth == 0 {
            out.push(c);
        }
    }
    out
}

/// Whitespace as Python's `str.isspace` sees it.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The signature's words: split at whitespace outside brackets of any kind.
fn split_tokens(s: &str) -> Vec<String> {
    if !s.is_empty()
        && !s
            .chars()
            .any(|c| is_space(c) || matches!(c, '(' | '{' | '<' | '['))
    {
        return vec![s.to_owned()];
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut closers: Vec<char> = Vec::new();
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let next = i + c.len_utf8();
        if let Some(closer) = closer_of(c) {
            closers.push(closer);
        } else if closers.last() == Some(&c) {
            closers.pop();
            if closers.is_empty() {
                word.push_str(&s[end..next]);
                end = next;
            }
        } else if closers.is_empty() {
            if is_space(c) {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            } else {
                word.push_str(&s[end..next]);
            }
            end = next;
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn closer_of(c: char) -> Option<char> {
    match c {
        '(' => Some(')'),
        '{' => Some('}'),
        '[' => Some(']'),
        '<' => Some('>'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native_trim(f: &str) -> String {
        trimmed(f, "native").map_or_else(|| f.to_owned(), Cow::into_owned)
    }

    #[test]
    fn cpp_signatures_lose_return_type_arguments_and_qualifiers() {
        let cases = [
            ("void foo::bar(int)", "foo::bar"),
            ("int main(int, char**)", "main"),
            ("std::string ns::Widget::name() const", "ns::Widget::name"),
            (
                "ns::Widget<int, float>::draw(Canvas&) const &",
                "ns::Widget<T>::draw",
            ),
            ("unsigned int whatever()", "whatever"),
            ("foo::bar() [clone .cold.12]", "foo::bar"),
            ("std::string foo[abi:cxx11](int)", "foo[abi:cxx11]"),
            (
                "(anonymous namespace)::helper(int)",
                "(anonymous namespace)::helper",
            ),
            (
                "`anonymous namespace'::helper(int)",
                "`anonymous namespace'::helper",
            ),
            (
                "std::ostream& operator<<(std::ostream&, Foo const&)",
                "operator<<",
            ),
            ("bool Foo::operator<(Foo const&) const", "Foo::operator<"),
            ("void Foo::operator()(int)", "Foo::operator()"),
            ("Bar* Foo::operator->()", "Foo::operator->"),
            ("memcpy@@GLIBC_2.14", "memcpy"),
            ("_Foo@12", "_Foo"),
        ];
        for (sent, want) in cases {
            assert_eq!(native_trim(sent), want, "{sent}");
        }
    }

    #[test]
    fn lambdas_of_every_compiler_are_called_lambda() {
        assert_eq!(
            native_trim("main::{lambda(int)#1}::operator()(int) const"),
            "main::lambda::operator()"
        );
        assert_eq!(
            native_trim("main::$_0::operator()() const"),
            "main::lambda::operator()"
        );
        assert_eq!(
            native_trim(&format!(
                "foo::lambda_{}::operator()",
                "0123456789abcdef".repeat(2)
            )),
            "foo::lambda::operator()"
        );
        assert_eq!(
            native_trim("?A0x1234abcd::helper"),
            "`anonymous namespace'::helper"
        );
    }

    #[test]
    fn rust_names_keep_the_type_of_a_trait_implementation() {
        assert_eq!(
            native_trim("<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"),
            "alloc::boxed::Box<T>::call_once"
        );
        assert_eq!(
            native_trim("<T as core::convert::Into<U>>::into"),
            "core::convert::Into<T>::into"
        );
        assert_eq!(
            native_trim("std::panicking::begin_panic::<&str>"),
            "std::panicking::begin_panic::<T>"
        );
        assert_eq!(native_trim("app::main::h0123456789abcdef"), "app::main");
        // Nothing to trim: the same name, and no raw_function.
        assert_eq!(trimmed("app::run::{{closure}}", "native"), None);
        assert_eq!(trimmed("app::main", "rust"), None);
        // Sentry trims only its native family: a `rust` frame is left alone.
        assert_eq!(trimmed("<app::A as app::T>::f", "rust"), None);
    }

    #[test]
    fn swift_and_objective_c() {
        assert_eq!(
            native_trim("-[NSObject doesNotRecognizeSelector:]"),
            "-[NSObject doesNotRecognizeSelector:]"
        );
        assert_eq!(
            trimmed("@objc ViewController.buttonTapped(_:) -> ()", "swift").as_deref(),
            Some("ViewController.buttonTapped")
        );
        assert_eq!(
            trimmed("closure #1 () -> () in Bar.post(() -> ()) -> ()", "swift").as_deref(),
            Some("closure in Bar.post")
        );
        // Without a return arrow after the function, the word before the
        // closure's own arrow is taken, as Sentry does.
        assert_eq!(
            trimmed("closure #1 () -> () in Foo.bar()", "swift").as_deref(),
            Some("closure in #1")
        );
        assert_eq!(
            trimmed("thunk for @escaping @callee_guaranteed () -> ()", "cocoa").as_deref(),
            Some("thunk for closure")
        );
        assert_eq!(
            trimmed(
                "variable initialization expression of static Shop.Cart.shared : Shop.Cart",
                "swift"
            )
            .as_deref(),
            Some("initializer expression of Shop.Cart.shared")
        );
        assert_eq!(
            trimmed("Foo.load() throws -> Swift.Int", "swift").as_deref(),
            Some("Foo.load")
        );
    }

    #[test]
    fn names_sentry_documents() {
        let cases = [
            (" namespace::const ", "namespace::"),
            (
                "static unsigned int Engine::Input::dispatch(char const *,char const *) const",
                "Engine::Input::dispatch",
            ),
            (
                "<tokio::task::Scheduled<'a, U>>::tick",
                "tokio::task::Scheduled<T>::tick",
            ),
            (
                "static <NoType> std::panicking::begin_panic<str*>(struct str*, struct (str*, u32, u32) *)",
                "std::panicking::begin_panic<T>",
            ),
            (
                "(anonymous namespace)::Helper<std::vector<std::string>>(int)",
                "(anonymous namespace)::Helper<T>",
            ),
            (
                "std::basic_ostream<char>& std::operator<< <std::char_traits<char> >(std::basic_ostream<char>&, char)",
                "std::operator<< <T>",
            ),
            (
                "<actix::ContextFut<A, C> as futures::Future>::poll::h9de5fbebc1652d47",
                "actix::ContextFut<T>::poll",
            ),
            ("<lambda_7156c3ceaa11256748687ab67e3ef4cd>::operator()", "<lambda>::operator()"),
            ("trigger_crash(int*) [clone .constprop.0]", "trigger_crash"),
            (
                "std::__1::unique_ptr<X,std::default_delete<X> >::operator->",
                "std::__1::unique_ptr<T>::operator->",
            ),
            ("glob64@GLIBC_2.2", "glob64"),
            ("@ThreadStart@16", "ThreadStart"),
        ];
        for (sent, want) in cases {
            assert_eq!(native_trim(sent), want, "{sent}");
        }
    }

    #[test]
    fn unknown_and_unbalanced_names() {
        assert_eq!(trimmed("<redacted>", "native"), None);
        assert_eq!(trimmed("<unknown>", "native"), None);
        // Sentry drops what follows an unclosed bracket.
        assert_eq!(native_trim("foo<bar"), "foo");
        // Only whitespace left: the sent name stays.
        assert_eq!(trimmed("()", "native"), None);
    }

    #[test]
    fn deeply_nested_names_past_the_ingestion_limit_are_left_alone() {
        let deep = format!("{}x{}", "<".repeat(100_000), ">".repeat(100_000));
        assert_eq!(trimmed(&deep, "native"), None);
        let nested = format!("{}x{}::f", "<".repeat(138), ">".repeat(138));
        assert_eq!(native_trim(&nested), "x::f");
    }

    #[test]
    fn csharp_loses_its_argument_list_and_other_platforms_nothing() {
        assert_eq!(
            trimmed("Foo.Bar.Baz (System.String s)", "csharp").as_deref(),
            Some("Foo.Bar.Baz")
        );
        assert_eq!(trimmed("void foo(int)", "python"), None);
        assert_eq!(trimmed("void foo(int)", "javascript"), None);
    }
}
