//! Units of metric values, with the names Sentry shows them by.

use std::fmt;

macro_rules! units {
    ($($(#[$doc:meta])* $variant:ident = $name:literal $(, $symbol:literal)*;)*) => {
        /// The unit of a metric value: one of the units Sentry knows, or
        /// any other name. Made from a name in any case, its plural or its
        /// symbol (`"ms"`, `"Milliseconds"` and `"millisecond"` are all
        /// [`Unit::Millisecond`]); sent as the singular lowercase name.
        ///
        /// ```
        /// use sentry_core::protocol::Unit;
        /// assert_eq!(Unit::from("ms"), Unit::Millisecond);
        /// assert_eq!(Unit::from("KiB").as_str(), "kibibyte");
        /// assert_eq!(Unit::from("requests").as_str(), "requests");
        /// ```
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Unit {
            $($(#[$doc])* $variant,)*
            /// A unit Sentry has no name for, sent as given.
            Other(String),
        }

        /// Each known unit with its name and symbols.
        const KNOWN: &[(Unit, &str, &[&str])] = &[$((Unit::$variant, $name, &[$($symbol),*]),)*];
    };
}

units! {
    /// ns
    Nanosecond = "nanosecond", "ns";
    /// µs
    Microsecond = "microsecond", "us", "\u{b5}s", "\u{3bc}s";
    /// ms
    Millisecond = "millisecond", "ms";
    /// s
    Second = "second", "s", "sec";
    /// min
    Minute = "minute", "min";
    /// h
    Hour = "hour", "h", "hr";
    /// d
    Day = "day", "d";
    /// A week.
    Week = "week";
    /// A bit.
    Bit = "bit";
    /// B
    Byte = "byte", "B";
    /// kB, 1000 bytes
    Kilobyte = "kilobyte", "kB", "KB";
    /// KiB, 1024 bytes
    Kibibyte = "kibibyte", "KiB";
    /// MB
    Megabyte = "megabyte", "MB";
    /// MiB
    Mebibyte = "mebibyte", "MiB";
    /// GB
    Gigabyte = "gigabyte", "GB";
    /// GiB
    Gibibyte = "gibibyte", "GiB";
    /// TB
    Terabyte = "terabyte", "TB";
    /// TiB
    Tebibyte = "tebibyte", "TiB";
    /// PB
    Petabyte = "petabyte", "PB";
    /// PiB
    Pebibyte = "pebibyte", "PiB";
    /// EB
    Exabyte = "exabyte", "EB";
    /// EiB
    Exbibyte = "exbibyte", "EiB";
    /// A fraction (0.25).
    Ratio = "ratio";
    /// %
    Percent = "percent", "%";
}

impl Unit {
    /// The name sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Unit::Other(name) => name,
            known => KNOWN
                .iter()
                .find(|(unit, _, _)| unit == known)
                .map_or("", |(_, name, _)| name),
        }
    }

    fn known(text: &str) -> Option<Unit> {
        let singular = text.strip_suffix(['s', 'S']).unwrap_or(text);
        KNOWN
            .iter()
            .find(|(_, name, symbols)| {
                symbols.contains(&text)
                    // "mins", "secs", "hrs"; not "ds" or "Bs".
                    || (singular.len() > 1 && symbols.contains(&singular))
                    || name.eq_ignore_ascii_case(text)
                    || name.eq_ignore_ascii_case(singular)
            })
            .map(|(unit, _, _)| unit.clone())
    }
}

impl From<&str> for Unit {
    fn from(text: &str) -> Self {
        Unit::known(text).unwrap_or_else(|| Unit::Other(text.to_owned()))
    }
}

impl From<String> for Unit {
    fn from(text: String) -> Self {
        Unit::known(&text).unwrap_or(Unit::Other(text))
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Unit;

    #[test]
    fn names_plurals_cases_and_symbols_meet() {
        for text in ["millisecond", "milliseconds", "Milliseconds", "ms"] {
            assert_eq!(Unit::from(text), Unit::Millisecond, "{text}");
        }
        for text in ["\u{b5}s", "\u{3bc}s", "us", "microseconds"] {
            assert_eq!(Unit::from(text), Unit::Microsecond, "{text}");
        }
        assert_eq!(Unit::from("%"), Unit::Percent);
        for (text, unit) in [
            ("mins", Unit::Minute),
            ("secs", Unit::Second),
            ("hrs", Unit::Hour),
        ] {
            assert_eq!(Unit::from(text), unit, "{text}");
        }
        assert_eq!(Unit::from("Bytes"), Unit::Byte);
    }

    #[test]
    fn symbols_keep_their_case() {
        // Megabyte and a millibit are not the same; "mb" is left as given.
        assert_eq!(Unit::from("MB"), Unit::Megabyte);
        assert_eq!(Unit::from("mb"), Unit::Other("mb".into()));
        assert_eq!(Unit::from("b"), Unit::Other("b".into()));
    }

    #[test]
    fn every_known_unit_goes_out_by_its_name_and_comes_back() {
        for (unit, name, _) in super::KNOWN {
            assert_eq!(unit.as_str(), *name);
            assert_eq!(&Unit::from(*name), unit);
        }
        assert_eq!(Unit::from(String::from("widgets")).to_string(), "widgets");
    }
}
