//! Sensitive data: which resources a patient must opt in to before they leave the device.
//!
//! A resource is sensitive when it carries a FHIR security label (`meta.security`, HL7 v3
//! ActCode sensitivity or Confidentiality codes) or a code from a well-known sensitive set
//! (mental health, substance use, sexual and reproductive health, HIV). The code lists are
//! data (`core/data/sensitive-codes.json`, sources named there), compiled in. Each resource
//! gets a bit mask of categories when it is written, stored in its row, so exports and shares
//! filter in SQL and can say how many they left out per category.

use serde_json::Value;
use std::sync::LazyLock;

const CODES: &str = include_str!("../data/sensitive-codes.json");

/// A category of sensitive data (one bit of the stored mask).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Mental health (PSY).
    MentalHealth,
    /// Substance use (ETH).
    SubstanceUse,
    /// Sexual and reproductive health (SEX, STD, SDV).
    SexualHealth,
    /// HIV (HIV).
    Hiv,
    /// Marked restricted or very restricted by the source (R, V).
    Restricted,
}

impl Category {
    /// Every category, in bit order.
    pub const ALL: [Category; 5] = [
        Category::MentalHealth,
        Category::SubstanceUse,
        Category::SexualHealth,
        Category::Hiv,
        Category::Restricted,
    ];

    /// The stable code (`mental-health`, `substance-use`, `sexual-health`, `hiv`, `restricted`).
    pub fn code(self) -> &'static str {
        match self {
            Category::MentalHealth => "mental-health",
            Category::SubstanceUse => "substance-use",
            Category::SexualHealth => "sexual-health",
            Category::Hiv => "hiv",
            Category::Restricted => "restricted",
        }
    }

    /// Parses a category code.
    pub fn from_code(code: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.code() == code)
    }

    /// This category's bit in the stored mask.
    pub fn bit(self) -> i64 {
        1 << (self as u8)
    }
}

/// Parses category codes as an option or parameter lists them (`mental-health`,
/// `substance-use`, `sexual-health`, `hiv`, `restricted`, or `all` for every one), each once,
/// in the order given. An unknown code is an error naming `param`. Every front (HTTP, CLI,
/// SDK) parses through this one function.
pub fn parse_categories<'a>(
    codes: impl IntoIterator<Item = &'a str>,
    param: &str,
) -> crate::Result<Vec<Category>> {
    let mut out = Vec::new();
    for code in codes.into_iter().map(str::trim).filter(|c| !c.is_empty()) {
        if code == "all" {
            return Ok(Category::ALL.to_vec());
        }
        let cat = Category::from_code(code).ok_or_else(|| {
            crate::Error::param(
                param,
                format!(
                    "`{code}` is not one of: mental-health, substance-use, sexual-health, hiv, restricted, all"
                ),
            )
        })?;
        if !out.contains(&cat) {
            out.push(cat);
        }
    }
    Ok(out)
}

/// A set of categories as the stored bit mask.
pub fn mask(categories: &[Category]) -> i64 {
    categories.iter().fold(0, |m, c| m | c.bit())
}

/// The categories in a stored mask.
pub fn categories(mask: i64) -> Vec<Category> {
    Category::ALL
        .into_iter()
        .filter(|c| mask & c.bit() != 0)
        .collect()
}

struct Lists {
    labels: Vec<(String, Category)>,
    icd10: Vec<(String, Category)>,
    snomed: Vec<(String, Category)>,
}

static LISTS: LazyLock<Lists> = LazyLock::new(|| {
    let mut lists = Lists {
        labels: Vec::new(),
        icd10: Vec::new(),
        snomed: Vec::new(),
    };
    let parsed: Value = serde_json::from_str(CODES).unwrap_or(Value::Null);
    for cat in parsed["categories"].as_array().into_iter().flatten() {
        let Some(category) = cat["code"].as_str().and_then(Category::from_code) else {
            continue;
        };
        let strings = |key: &str| {
            cat[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        lists.labels.extend(
            strings("security_labels")
                .into_iter()
                .map(|c| (c, category)),
        );
        lists
            .icd10
            .extend(strings("icd10_prefixes").into_iter().map(|c| (c, category)));
        if let Some(map) = cat["snomed"].as_object() {
            lists
                .snomed
                .extend(map.keys().map(|k| (k.clone(), category)));
        }
    }
    lists
});

fn codings(v: &Value) -> impl Iterator<Item = &Value> {
    v.get("coding")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The sensitive-category mask of a resource (0 when nothing sensitive).
pub fn classify(resource: &Value) -> i64 {
    let lists = &*LISTS;
    let mut m = 0;
    for label in resource
        .pointer("/meta/security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(code) = label.get("code").and_then(Value::as_str) {
            m |= lists
                .labels
                .iter()
                .filter(|(c, _)| c == code)
                .fold(0, |acc, (_, cat)| acc | cat.bit());
        }
    }
    let mut concepts: Vec<&Value> = resource.get("code").into_iter().collect();
    concepts.extend(
        resource
            .get("reasonCode")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for coding in concepts.into_iter().flat_map(codings) {
        let (Some(system), Some(code)) = (
            coding.get("system").and_then(Value::as_str),
            coding.get("code").and_then(Value::as_str),
        ) else {
            continue;
        };
        if system == "http://snomed.info/sct" {
            m |= lists
                .snomed
                .iter()
                .filter(|(c, _)| c == code)
                .fold(0, |acc, (_, cat)| acc | cat.bit());
        } else if system.starts_with("http://hl7.org/fhir/sid/icd-10") {
            let code = code.to_ascii_uppercase();
            m |= lists
                .icd10
                .iter()
                .filter(|(p, _)| code.starts_with(p.as_str()))
                .fold(0, |acc, (_, cat)| acc | cat.bit());
        }
    }
    m
}

/// Categories an active Consent in the record permits to leave by default: a `Consent` with
/// `status: active` whose `provision.type` is `permit` and whose `provision.securityLabel`
/// names sensitivity codes.
pub fn consented(consents: &[Value]) -> Vec<Category> {
    let lists = &*LISTS;
    let mut out = Vec::new();
    for c in consents {
        if c.get("status").and_then(Value::as_str) != Some("active")
            || c.pointer("/provision/type").and_then(Value::as_str) != Some("permit")
        {
            continue;
        }
        for label in c
            .pointer("/provision/securityLabel")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let code = label
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or_default();
            for (_, cat) in lists.labels.iter().filter(|(c, _)| c == code) {
                if !out.contains(cat) {
                    out.push(*cat);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_snomed_and_icd10_classify() {
        let labelled = json!({"resourceType": "Condition", "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "HIV"}]}});
        assert_eq!(categories(classify(&labelled)), vec![Category::Hiv]);
        let snomed = json!({"resourceType": "Condition", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "35489007"}]}});
        assert_eq!(categories(classify(&snomed)), vec![Category::MentalHealth]);
        let icd = json!({"resourceType": "Condition", "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F10.20"}]}});
        assert_eq!(categories(classify(&icd)), vec![Category::SubstanceUse]);
        let plain = json!({"resourceType": "Condition", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}});
        assert_eq!(classify(&plain), 0);
        let restricted = json!({"meta": {"security": [{"code": "R"}]}, "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "15628003"}]}]});
        assert_eq!(
            categories(classify(&restricted)),
            vec![Category::SexualHealth, Category::Restricted]
        );
    }

    #[test]
    fn an_active_permit_consent_opts_in() {
        let consent = json!({"resourceType": "Consent", "status": "active", "provision": {"type": "permit", "securityLabel": [{"code": "PSY"}]}});
        let inactive = json!({"resourceType": "Consent", "status": "inactive", "provision": {"type": "permit", "securityLabel": [{"code": "HIV"}]}});
        assert_eq!(
            consented(&[consent, inactive]),
            vec![Category::MentalHealth]
        );
    }

    #[test]
    fn every_category_in_the_data_file_is_known() {
        let parsed: Value = serde_json::from_str(CODES).unwrap();
        let codes: Vec<&str> = parsed["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, Category::ALL.map(Category::code));
    }
}
