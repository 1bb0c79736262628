//! Minified JSON written straight into a byte buffer, without a `Value` tree.
//!
//! [`jw!`](jw) reads like `serde_json::json!` but appends the text directly to a reused
//! `Vec<u8>`; values go through the small [`Json`] trait. The FHIR datatypes the generator
//! writes over and over ([`Coding`], [`Concept`], [`Ref`], [`Qty`]) are [`Json`] values too,
//! so a resource is written in one pass with no allocation beyond its strings.

use super::codes::UCUM;

/// Writes JSON with `json!`-like syntax straight into `$w: &mut Vec<u8>`.
///
/// Object entries are `"key": expr` (left out when `expr` is `None`),
/// `"key": {..}`, `"key": [..]`, and `"key" if cond => {..}` / `[..]`
/// (written only when `cond` holds). Array elements are `{..}`, `[..]` or `expr`.
///
/// The expansion names everything by its full path, so callers import only `jw`.
macro_rules! jw {
    ($w:ident; { $($body:tt)* }) => {{
        $w.push(b'{');
        #[allow(unused_mut, unused_variables)]
        let mut first = true;
        $crate::generate::json::jw!(@obj $w first; $($body)*);
        $w.push(b'}');
    }};
    ($w:ident; [ $($body:tt)* ]) => {{
        $w.push(b'[');
        #[allow(unused_mut, unused_variables)]
        let mut first = true;
        $crate::generate::json::jw!(@arr $w first; $($body)*);
        $w.push(b']');
    }};
    (@obj $w:ident $f:ident;) => {};
    (@obj $w:ident $f:ident; $k:literal if $c:expr => { $($v:tt)* } $(, $($rest:tt)*)?) => {
        if $c {
            $crate::generate::json::jw!(@key $w $f $k);
            $crate::generate::json::jw!($w; { $($v)* });
        }
        $crate::generate::json::jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal if $c:expr => [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        if $c {
            $crate::generate::json::jw!(@key $w $f $k);
            $crate::generate::json::jw!($w; [ $($v)* ]);
        }
        $crate::generate::json::jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal : { $($v:tt)* } $(, $($rest:tt)*)?) => {
        $crate::generate::json::jw!(@key $w $f $k);
        $crate::generate::json::jw!($w; { $($v)* });
        $crate::generate::json::jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal : [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::generate::json::jw!(@key $w $f $k);
        $crate::generate::json::jw!($w; [ $($v)* ]);
        $crate::generate::json::jw!(@obj $w $f; $($($rest)*)?);
    };
    (@obj $w:ident $f:ident; $k:literal : $v:expr $(, $($rest:tt)*)?) => {
        let v = $v;
        if $crate::generate::json::Json::present(&v) {
            $crate::generate::json::jw!(@key $w $f $k);
            $crate::generate::json::Json::write(&v, $w);
        }
        $crate::generate::json::jw!(@obj $w $f; $($($rest)*)?);
    };
    (@key $w:ident $f:ident $k:literal) => {
        $crate::generate::json::jw!(@sep $w $f);
        $w.extend_from_slice(concat!("\"", $k, "\":").as_bytes());
    };
    (@arr $w:ident $f:ident;) => {};
    (@arr $w:ident $f:ident; { $($v:tt)* } $(, $($rest:tt)*)?) => {
        $crate::generate::json::jw!(@sep $w $f);
        $crate::generate::json::jw!($w; { $($v)* });
        $crate::generate::json::jw!(@arr $w $f; $($($rest)*)?);
    };
    (@arr $w:ident $f:ident; [ $($v:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::generate::json::jw!(@sep $w $f);
        $crate::generate::json::jw!($w; [ $($v)* ]);
        $crate::generate::json::jw!(@arr $w $f; $($($rest)*)?);
    };
    (@arr $w:ident $f:ident; $v:expr $(, $($rest:tt)*)?) => {
        $crate::generate::json::jw!(@sep $w $f);
        $crate::generate::json::Json::write(&$v, $w);
        $crate::generate::json::jw!(@arr $w $f; $($($rest)*)?);
    };
    (@sep $w:ident $f:ident) => {
        $crate::generate::json::separate($w, &mut $f);
    };
}
pub(super) use jw;

/// Writes the comma between entries of an object or array.
pub(super) fn separate(w: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        w.push(b',');
    }
    *first = false;
}

/// A value `jw!` can write; `present` is false for values to leave out (`None`).
pub(super) trait Json {
    /// Appends the JSON text of `self` to `w`.
    fn write(&self, w: &mut Vec<u8>);
    /// Whether an object entry with this value is written at all.
    fn present(&self) -> bool {
        true
    }
}

impl Json for str {
    fn write(&self, w: &mut Vec<u8>) {
        w.push(b'"');
        for &b in self.as_bytes() {
            match b {
                b'"' | b'\\' => w.extend_from_slice(&[b'\\', b]),
                b'\n' => w.extend_from_slice(b"\\n"),
                0..=0x1f => {
                    let hex = b"0123456789abcdef";
                    w.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        hex[usize::from(b >> 4)],
                        hex[usize::from(b & 15)],
                    ]);
                }
                _ => w.push(b),
            }
        }
        w.push(b'"');
    }
}

impl Json for String {
    fn write(&self, w: &mut Vec<u8>) {
        self.as_str().write(w);
    }
}

impl<T: Json + ?Sized> Json for &T {
    fn write(&self, w: &mut Vec<u8>) {
        (**self).write(w);
    }
    fn present(&self) -> bool {
        (**self).present()
    }
}

impl<T: Json> Json for Option<T> {
    fn write(&self, w: &mut Vec<u8>) {
        if let Some(v) = self {
            v.write(w);
        }
    }
    fn present(&self) -> bool {
        self.as_ref().is_some_and(Json::present)
    }
}

impl<T: Json> Json for [T] {
    fn write(&self, w: &mut Vec<u8>) {
        w.push(b'[');
        for (i, v) in self.iter().enumerate() {
            if i > 0 {
                w.push(b',');
            }
            v.write(w);
        }
        w.push(b']');
    }
}

impl<T: Json, const N: usize> Json for [T; N] {
    fn write(&self, w: &mut Vec<u8>) {
        self.as_slice().write(w);
    }
}

impl<T: Json> Json for Vec<T> {
    fn write(&self, w: &mut Vec<u8>) {
        self.as_slice().write(w);
    }
}

impl Json for bool {
    fn write(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

/// Implements [`Json`] for integer types, written in decimal.
macro_rules! json_int {
    ($($t:ty),*) => {$(
        impl Json for $t {
            fn write(&self, w: &mut Vec<u8>) {
                w.extend_from_slice(self.to_string().as_bytes());
            }
        }
    )*};
}
json_int!(i32, i64, u32, usize);

/// A FHIR Coding.
pub(super) struct Coding<'a>(pub(super) &'a str, pub(super) &'a str, pub(super) &'a str);

impl Json for Coding<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        jw!(w; {"system": self.0, "code": self.1, "display": self.2});
    }
}

/// A FHIR CodeableConcept of one Coding (no `text`: the display says it, lines stay short).
pub(super) struct Concept<'a>(pub(super) &'a str, pub(super) &'a str, pub(super) &'a str);

impl Json for Concept<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        jw!(w; {"coding": [Coding(self.0, self.1, self.2)]});
    }
}

/// A relative FHIR Reference, `Type/id`.
pub(super) struct Ref<'a>(pub(super) &'a str, pub(super) &'a str);

impl Json for Ref<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(b"{\"reference\":");
        format!("{}/{}", self.0, self.1).write(w);
        w.push(b'}');
    }
}

/// A UCUM Quantity written with a fixed number of decimals.
pub(super) struct Qty<'a>(pub(super) f64, pub(super) usize, pub(super) &'a str);

impl Json for Qty<'_> {
    fn write(&self, w: &mut Vec<u8>) {
        jw!(w; {"value": Decimal(self.0, self.1), "unit": self.2, "system": UCUM, "code": self.2});
    }
}

/// A JSON number with a fixed number of decimals (FHIR keeps the precision).
pub(super) struct Decimal(pub(super) f64, pub(super) usize);

impl Json for Decimal {
    fn write(&self, w: &mut Vec<u8>) {
        w.extend_from_slice(format!("{:.*}", self.1, self.0).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_minified_json() {
        let mut buf = Vec::new();
        let w = &mut buf;
        jw!(w; {"a": "x\"y\n\u{1}", "b": None::<i32>, "c" if false => {}, "d": [1, Decimal(2.5, 2), {"e": true}]});
        assert_eq!(
            String::from_utf8_lossy(&buf),
            r#"{"a":"x\"y\n\u0001","d":[1,2.50,{"e":true}]}"#
        );
    }
}
