//! Paged search on a real store: every resource on exactly one page, newest first, even
//! while the app writes between pages; tokens refuse another search.

mod common;

use common::generated_store;
use phrkit::{Error, Search, Store};
use serde_json::json;
use std::collections::HashSet;

fn observation(id: &str, date: &str, patient: &str) -> String {
    json!({"resourceType": "Observation", "id": id, "status": "final", "code": {"text": "Weight"},
        "subject": {"reference": format!("Patient/{patient}")}, "effectiveDateTime": date,
        "valueQuantity": {"value": 70, "unit": "kg"}})
    .to_string()
}

fn all_pages(s: &Store, search: &Search, mut between: impl FnMut(usize)) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut n = 0;
    loop {
        let page = s.search_page(search, token.as_deref()).unwrap();
        assert!(page.records.len() <= search.limit.unwrap_or(50));
        seen.extend(
            page.records
                .iter()
                .map(|r| (r.resource_type.clone(), r.id.clone())),
        );
        n += 1;
        between(n);
        match page.next_page_token {
            Some(t) => token = Some(t),
            None => return seen,
        }
    }
}

#[test]
fn pages_cover_every_resource_once_newest_first_with_writes_between_pages() {
    let (_d, s) = generated_store(1, 2000, 11);
    let patient = s.patient_ids().unwrap().remove(0);
    let search = Search {
        patient: Some(patient.clone()),
        limit: Some(97),
        ..Default::default()
    };
    let before: HashSet<(String, String)> = s
        .search(&search_all(&patient))
        .unwrap()
        .into_iter()
        .map(|r| (r.resource_type, r.id))
        .collect();
    assert!(before.len() > 1500, "{}", before.len());

    // Between pages the app adds resources dated before, inside and after the record.
    let dates = ["1950-01-01", "2015-06-01", "2099-01-01"];
    let seen = all_pages(&s, &search, |n| {
        s.create(&observation(&format!("new{n}"), dates[n % 3], &patient))
            .unwrap();
    });
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no resource on two pages");
    for r in &before {
        assert!(unique.contains(r), "{r:?} on no page");
    }

    // Newest clinical date first, undated last: exactly a plain search's order (oldest
    // first, undated first) reversed.
    let quiet = all_pages(&s, &search, |_| {});
    let mut ascending: Vec<(String, String)> = s
        .search(&search_all(&patient))
        .unwrap()
        .into_iter()
        .map(|r| (r.resource_type, r.id))
        .collect();
    ascending.reverse();
    assert_eq!(quiet, ascending);
}

fn search_all(patient: &str) -> Search {
    Search {
        patient: Some(patient.to_string()),
        ..Default::default()
    }
}

#[test]
fn a_token_belongs_to_its_search() {
    let (_d, s) = generated_store(1, 300, 12);
    let search = Search {
        limit: Some(10),
        ..Default::default()
    };
    let first = s.search_page(&search, None).unwrap();
    assert_eq!(first.records.len(), 10);
    let token = first.next_page_token.expect("more than one page");
    let other = Search {
        types: vec!["Observation".into()],
        limit: Some(10),
        ..Default::default()
    };
    for (search, token) in [
        (&other, token.as_str()),
        (&search, "garbage!"),
        (&search, "W10"),
    ] {
        match s.search_page(search, Some(token)) {
            Err(Error::InvalidParameter { name, .. }) => assert_eq!(name, "pageToken"),
            other => panic!("{token}: {other:?}"),
        }
    }
    // The page size does not change the search: a token works with another limit.
    let bigger = Search {
        limit: Some(25),
        ..Default::default()
    };
    let next = s.search_page(&bigger, Some(&token)).unwrap();
    assert_eq!(next.records.len(), 25);
    assert!(next.records.iter().all(|r| !first.records.contains(r)));
}
