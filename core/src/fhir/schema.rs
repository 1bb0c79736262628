//! The official FHIR R4 JSON schema, loaded into a compact rule table.
//!
//! HL7's schema (`core/schema/fhir.schema.json`, 3.3 MB) is very regular: every definition is
//! either an object type (`properties`, `required`, `additionalProperties: false`), a
//! primitive (`type` and a `pattern`), `xhtml` (anything) or `ResourceList` (one of the
//! resource types). Every property is a `$ref`, an array of `$ref`s or codes, a code list
//! (`enum`), a fixed `resourceType` (`const`), or an inline primitive. So instead of handing
//! the schema to a general JSON Schema engine — which cost ~33 MB to hold the parsed schema
//! plus ~1.7 MB per resource type compiled, more than a phone's whole import budget — it is
//! read once into this table: one entry per definition, properties sorted by name, each
//! distinct pattern compiled once. The whole of R4 then costs about 1 MB and no type is ever
//! compiled on first use.
//!
//! Loading refuses any schema keyword the table does not model (`deny_unknown_fields`), so a
//! different schema file cannot be half-understood silently; the tests also check the table's
//! verdicts against an independent JSON Schema validator on real and mutated resources.

use regex::Regex;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::collections::HashMap;

const SCHEMA_TEXT: &str = include_str!("../../schema/fhir.schema.json");

/// The rule table: definitions by index, resource types by name, the compiled patterns.
pub(crate) struct Schema {
    pub defs: Vec<Def>,
    /// Resource type name → index of its definition.
    pub resources: HashMap<Box<str>, u32>,
    pub patterns: Vec<Pattern>,
}

/// A compiled `pattern`. The patterns that cover most strings in a resource (`string`,
/// `markdown`, `uri`, `code`, `id`) are checked by hand-written equivalents of their regular
/// expressions; the rest by the `regex` crate. `\s` is Unicode White_Space in both
/// ([`char::is_whitespace`]).
pub(crate) enum Pattern {
    /// `^[ \r\n\t\S]+$`: not empty, and no whitespace but space, CR, LF and tab.
    Text,
    /// `^\S*$`: no whitespace.
    NoSpace,
    /// `^[^\s]+(\s[^\s]+)*$`: words separated by single whitespace characters.
    Code,
    /// `^[A-Za-z0-9\-\.]{1,64}$`.
    Id,
    Regex(Regex),
}

impl Pattern {
    fn new(source: &str) -> Result<Pattern, regex::Error> {
        Ok(match source {
            r"^[ \r\n\t\S]+$" => Pattern::Text,
            r"^\S*$" => Pattern::NoSpace,
            r"^[^\s]+(\s[^\s]+)*$" => Pattern::Code,
            r"^[A-Za-z0-9\-\.]{1,64}$" => Pattern::Id,
            other => Pattern::Regex(Regex::new(other)?),
        })
    }

    /// True when `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        match self {
            Pattern::Text => {
                !text.is_empty()
                    && text
                        .chars()
                        .all(|c| !c.is_whitespace() || matches!(c, ' ' | '\r' | '\n' | '\t'))
            }
            Pattern::NoSpace => !text.chars().any(char::is_whitespace),
            Pattern::Code => {
                let mut prev_space = true;
                for c in text.chars() {
                    let space = c.is_whitespace();
                    if space && prev_space {
                        return false;
                    }
                    prev_space = space;
                }
                !text.is_empty() && !prev_space
            }
            Pattern::Id => super::is_valid_id(text),
            Pattern::Regex(re) => re.is_match(text),
        }
    }
}

/// One definition of the schema.
pub(crate) enum Def {
    /// A complex type or resource: what may appear in the object, and what must.
    Object(ObjectDef),
    /// A primitive type (`string`, `dateTime`, …).
    Scalar(Scalar),
    /// Any resource, checked against its own type (`contained`, `Bundle.entry.resource`).
    ResourceList,
    /// No constraint (`xhtml`).
    Any,
}

/// A complex type: its properties sorted by name, and the required ones.
pub(crate) struct ObjectDef {
    pub props: Box<[(Box<str>, Prop)]>,
    pub required: Box<[Box<str>]>,
    /// `additionalProperties: false`: names not in `props` are errors.
    pub closed: bool,
}

impl ObjectDef {
    /// The rule for property `name`.
    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .map(|i| &self.props[i].1)
    }
}

/// One property: a rule for the value, or for each item of an array.
pub(crate) struct Prop {
    pub array: bool,
    pub rule: Rule,
}

/// What a value must be.
pub(crate) enum Rule {
    /// Valid against another definition (primitives are inlined as [`Rule::Scalar`]).
    Def(u32),
    Scalar(Scalar),
    /// One of these codes.
    Enum(Box<[Box<str>]>),
    /// Exactly this string (`resourceType`).
    Const(Box<str>),
}

/// A primitive: its JSON type, its pattern (strings only, as in JSON Schema) and whether
/// it is a date that must exist in the calendar.
#[derive(Clone, Copy)]
pub(crate) struct Scalar {
    pub json: Json,
    pub pattern: Option<u16>,
    /// The schema's date, dateTime and instant patterns accept `2021-02-29`; the schema's own
    /// description says "Dates SHALL be valid dates", which this flag enforces.
    pub calendar: bool,
}

/// A JSON type of the schema's `type` keyword.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Json {
    String,
    Number,
    Boolean,
    /// No `type` keyword.
    Any,
}

#[derive(Deserialize)]
struct RawSchema {
    discriminator: RawDiscriminator,
    definitions: HashMap<String, RawDef>,
}

#[derive(Deserialize)]
struct RawDiscriminator {
    mapping: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDef {
    #[allow(dead_code)]
    description: Option<IgnoredAny>,
    properties: Option<HashMap<String, RawProp>>,
    required: Option<Vec<String>>,
    #[serde(rename = "additionalProperties")]
    additional_properties: Option<bool>,
    #[serde(rename = "type")]
    ty: Option<String>,
    pattern: Option<String>,
    #[serde(rename = "oneOf")]
    one_of: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProp {
    #[allow(dead_code)]
    description: Option<IgnoredAny>,
    #[serde(rename = "$ref")]
    reference: Option<String>,
    items: Option<Box<RawProp>>,
    #[serde(rename = "type")]
    ty: Option<String>,
    pattern: Option<String>,
    #[serde(rename = "enum")]
    codes: Option<Vec<String>>,
    #[serde(rename = "const")]
    fixed: Option<String>,
}

/// Why the schema could not be loaded (a build defect: the schema is compiled in).
#[derive(Debug, thiserror::Error)]
#[error("the FHIR schema cannot be loaded: {0}")]
pub(crate) struct LoadError(String);

impl Schema {
    /// Reads the schema compiled into the binary.
    pub fn load() -> Result<Schema, LoadError> {
        let raw: RawSchema =
            serde_json::from_str(SCHEMA_TEXT).map_err(|e| LoadError(e.to_string()))?;
        Builder::default().build(raw)
    }
}

#[derive(Default)]
struct Builder {
    patterns: Vec<Pattern>,
    pattern_index: HashMap<String, u16>,
    /// Patterns of the date, dateTime and instant primitives.
    calendar_patterns: Vec<String>,
}

impl Builder {
    fn build(mut self, raw: RawSchema) -> Result<Schema, LoadError> {
        let mut names: Vec<&String> = raw.definitions.keys().collect();
        names.sort();
        let index: HashMap<&str, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect();
        for name in ["date", "dateTime", "instant"] {
            if let Some(p) = raw.definitions.get(name).and_then(|d| d.pattern.clone()) {
                self.calendar_patterns.push(p);
            }
        }
        // Primitives first, so properties can inline them.
        let mut scalars: HashMap<&str, Scalar> = HashMap::new();
        for (name, def) in &raw.definitions {
            if def.properties.is_none() && def.one_of.is_none() && def.ty.is_some() {
                let scalar = self.scalar(def.ty.as_deref(), def.pattern.as_deref())?;
                scalars.insert(name.as_str(), scalar);
            }
        }
        let mut defs = Vec::with_capacity(names.len());
        for name in &names {
            let def = &raw.definitions[*name];
            defs.push(if let Some(s) = scalars.get(name.as_str()) {
                Def::Scalar(*s)
            } else if def.one_of.is_some() {
                Def::ResourceList
            } else if let Some(props) = &def.properties {
                let mut table = Vec::with_capacity(props.len());
                for (pname, p) in props {
                    table.push((pname.as_str().into(), self.prop(p, &index, &scalars)?));
                }
                table.sort_by(|a: &(Box<str>, Prop), b| a.0.cmp(&b.0));
                Def::Object(ObjectDef {
                    props: table.into_boxed_slice(),
                    required: def
                        .required
                        .iter()
                        .flatten()
                        .map(|r| r.as_str().into())
                        .collect(),
                    closed: def.additional_properties == Some(false),
                })
            } else {
                Def::Any
            });
        }
        let mut resources = HashMap::new();
        for (ty, target) in &raw.discriminator.mapping {
            let name = target.strip_prefix("#/definitions/").unwrap_or(target);
            let i = *index
                .get(name)
                .ok_or_else(|| LoadError(format!("no definition for resource type {ty}")))?;
            resources.insert(ty.as_str().into(), i);
        }
        Ok(Schema {
            defs,
            resources,
            patterns: self.patterns,
        })
    }

    fn prop(
        &mut self,
        p: &RawProp,
        index: &HashMap<&str, u32>,
        scalars: &HashMap<&str, Scalar>,
    ) -> Result<Prop, LoadError> {
        if let Some(items) = &p.items {
            if p.ty.as_deref() != Some("array") {
                return Err(LoadError("`items` without `type: array`".into()));
            }
            return Ok(Prop {
                array: true,
                rule: self.rule(items, index, scalars)?,
            });
        }
        Ok(Prop {
            array: false,
            rule: self.rule(p, index, scalars)?,
        })
    }

    fn rule(
        &mut self,
        p: &RawProp,
        index: &HashMap<&str, u32>,
        scalars: &HashMap<&str, Scalar>,
    ) -> Result<Rule, LoadError> {
        if let Some(target) = &p.reference {
            let name = target
                .strip_prefix("#/definitions/")
                .ok_or_else(|| LoadError(format!("non-local $ref {target}")))?;
            if let Some(s) = scalars.get(name) {
                return Ok(Rule::Scalar(*s));
            }
            let i = index
                .get(name)
                .ok_or_else(|| LoadError(format!("$ref to unknown {name}")))?;
            return Ok(Rule::Def(*i));
        }
        if let Some(codes) = &p.codes {
            let mut codes: Vec<Box<str>> = codes.iter().map(|c| c.as_str().into()).collect();
            // The schema is the 4.0.0 build: let `fhirVersion` say 4.0.1 (the R4 release).
            if codes.iter().any(|c| &**c == "4.0.0") && !codes.iter().any(|c| &**c == "4.0.1") {
                codes.push("4.0.1".into());
            }
            return Ok(Rule::Enum(codes.into_boxed_slice()));
        }
        if let Some(fixed) = &p.fixed {
            return Ok(Rule::Const(fixed.as_str().into()));
        }
        if p.ty.is_some() {
            return Ok(Rule::Scalar(
                self.scalar(p.ty.as_deref(), p.pattern.as_deref())?,
            ));
        }
        Err(LoadError("a property with no rule".into()))
    }

    fn scalar(&mut self, ty: Option<&str>, pattern: Option<&str>) -> Result<Scalar, LoadError> {
        let json = match ty {
            Some("string") => Json::String,
            Some("number") => Json::Number,
            Some("boolean") => Json::Boolean,
            None => Json::Any,
            Some(other) => return Err(LoadError(format!("unexpected type {other}"))),
        };
        // JSON Schema applies `pattern` to strings only: the schema's patterns on numbers
        // and booleans constrain nothing, and neither does this table.
        let pattern = match (json, pattern) {
            (Json::String, Some(p)) => Some(self.pattern(p)?),
            _ => None,
        };
        let calendar = pattern.is_some()
            && self
                .calendar_patterns
                .iter()
                .any(|c| self.pattern_index.get(c) == pattern.as_ref());
        Ok(Scalar {
            json,
            pattern,
            calendar,
        })
    }

    fn pattern(&mut self, p: &str) -> Result<u16, LoadError> {
        if let Some(i) = self.pattern_index.get(p) {
            return Ok(*i);
        }
        let re = Pattern::new(p).map_err(|e| LoadError(format!("pattern: {e}")))?;
        let i = u16::try_from(self.patterns.len()).map_err(|_| LoadError("patterns".into()))?;
        self.patterns.push(re);
        self.pattern_index.insert(p.to_string(), i);
        Ok(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_every_resource_type_and_few_patterns() {
        let s = Schema::load().unwrap();
        assert!(s.resources.len() > 140);
        assert!(s.patterns.len() < 40, "{} patterns", s.patterns.len());
        let Def::Object(patient) = &s.defs[s.resources["Patient"] as usize] else {
            panic!("Patient is an object type");
        };
        assert!(patient.closed);
        assert!(patient.prop("birthDate").is_some() && patient.prop("nope").is_none());
    }

    #[test]
    fn hand_written_patterns_equal_their_regular_expressions() {
        let samples = [
            "",
            " ",
            "a",
            "a b",
            "a  b",
            " a",
            "a ",
            "a\tb",
            "a\nb",
            "a\r\nb",
            "a\u{a0}b",
            "\u{2003}",
            "x\u{85}",
            "abc-1.2",
            "a_b",
            &"a".repeat(64),
            &"a".repeat(65),
            "é",
            "\u{feff}",
            "a\u{3000}b",
            "http://x/y z",
        ];
        for source in [
            r"^[ \r\n\t\S]+$",
            r"^\S*$",
            r"^[^\s]+(\s[^\s]+)*$",
            r"^[A-Za-z0-9\-\.]{1,64}$",
        ] {
            let fast = Pattern::new(source).unwrap();
            assert!(!matches!(fast, Pattern::Regex(_)), "{source}");
            let re = Regex::new(source).unwrap();
            for s in samples {
                assert_eq!(fast.is_match(s), re.is_match(s), "{source} on {s:?}");
            }
        }
    }
}
