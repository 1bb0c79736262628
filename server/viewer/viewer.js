// phrkit viewer: opens a SMART Health Link in the browser and shows the record.
//
// The link is read from the URL fragment (`#shlink:/…`), which browsers never send to a
// server, so the key stays on this device. The manifest and files are fetched from the link's
// host, decrypted here with WebCrypto (JWE `dir` / `A256GCM`, `zip: DEF` through
// DecompressionStream), and shown as text: every string from the record goes into the page
// through textContent, never as HTML, and resource narratives (`text.div`) are not shown.
// Nothing decrypted is written to browser storage.
'use strict';

const MAX_PLAIN = 64 << 20; // largest decrypted (and inflated) file accepted, bytes

let link = null; // the decoded SHL payload
let lastRecipient = '';
let lastPasscode = '';

const byId = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes, never HTML). */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === '') continue;
    node.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return node;
}

function status(text, error) {
  const s = byId('status');
  s.textContent = text || '';
  s.className = error ? 'error' : '';
}

// ---- the link -------------------------------------------------------------------------

function b64urlBytes(text) {
  const b64 = text.replace(/\s+/g, '').replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const utf8 = (bytes) => new TextDecoder('utf-8', { fatal: true }).decode(bytes);

/** The SHL payload in `text` (a bare `shlink:/…` or any URL holding `#shlink:/…`). */
function parseLink(text) {
  const at = text.indexOf('shlink:/');
  if (at < 0) return null;
  const payload = JSON.parse(utf8(b64urlBytes(decodeURIComponent(text.slice(at + 8)))));
  if (typeof payload.url !== 'string' || typeof payload.key !== 'string') {
    throw new Error('not a SMART Health Link (no url or key)');
  }
  const key = b64urlBytes(payload.key);
  if (key.length !== 32) throw new Error('the link key is not 32 bytes');
  const url = new URL(payload.url);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw new Error('the link points to a host without https');
  }
  payload.keyBytes = key;
  payload.flag = typeof payload.flag === 'string' ? payload.flag : '';
  return payload;
}

function showLink() {
  const label = typeof link.label === 'string' && link.label ? link.label : 'Shared health record';
  byId('label').textContent = label;
  document.title = label;
  if (typeof link.exp === 'number') {
    const exp = new Date(link.exp * 1000);
    byId('expiry').textContent = 'Available until ' + exp.toLocaleString();
    if (exp.getTime() < Date.now()) {
      status('This link has expired. Ask the person who shared it for a new one.', true);
      return;
    }
  }
  byId('passcode-label').hidden = !link.flag.includes('P');
  byId('passcode').required = link.flag.includes('P');
  byId('open').hidden = false;
  byId('recipient').focus();
}

// ---- fetching ---------------------------------------------------------------------------

class Shown extends Error {} // an error whose message is meant for the reader

async function request(url, init) {
  try {
    return await fetch(url, { ...init, credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer', cache: 'no-store' });
  } catch (_) {
    throw new Shown("Cannot reach the link's host. Check the connection and try again.");
  }
}

async function explain(response) {
  if (response.status === 401) {
    let body = {};
    try { body = await response.json(); } catch (_) { /* no body */ }
    const left = body.remainingAttempts;
    if (!lastPasscode) return new Shown('This link needs a passcode.');
    if (typeof left === 'number') {
      return new Shown(`Wrong passcode. ${left} attempt${left === 1 ? '' : 's'} left.`);
    }
    return new Shown('Wrong passcode.');
  }
  if (response.status === 404) {
    return new Shown('This link is no longer available: it expired, was revoked by the person who shared it, or ran out of passcode attempts.');
  }
  if (response.status === 429) {
    const wait = parseInt(response.headers.get('retry-after') || '', 10);
    const err = new Shown(`The host asks to wait${wait > 0 ? ` ${wait} second${wait === 1 ? '' : 's'}` : ''} before trying again.`);
    err.retryAfter = wait > 0 ? wait : 30;
    return err;
  }
  return new Shown(`The link's host could not give the record (status ${response.status}).`);
}

/** The link's files as `{contentType, jwe}`. */
async function files() {
  const recipient = encodeURIComponent(lastRecipient);
  if (link.flag.includes('U')) {
    const sep = link.url.includes('?') ? '&' : '?';
    const r = await request(`${link.url}${sep}recipient=${recipient}`);
    if (!r.ok) throw await explain(r);
    return [{ contentType: 'application/fhir+json', jwe: await r.text() }];
  }
  const body = { recipient: lastRecipient };
  if (link.flag.includes('P')) body.passcode = lastPasscode;
  const r = await request(link.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw await explain(r);
  let manifest;
  try { manifest = await r.json(); } catch (_) { throw new Shown('The host sent something that is not a manifest.'); }
  if (!Array.isArray(manifest.files)) throw new Shown('The host sent something that is not a manifest.');
  const out = [];
  for (const f of manifest.files.slice(0, 100)) {
    if (typeof f.embedded === 'string') {
      out.push({ contentType: f.contentType, jwe: f.embedded });
    } else if (typeof f.location === 'string') {
      const got = await request(f.location);
      if (!got.ok) throw new Shown(`A file of the record could not be fetched (status ${got.status}).`);
      out.push({ contentType: f.contentType, jwe: await got.text() });
    }
  }
  return out;
}

// ---- decryption ---------------------------------------------------------------------------

async function readCapped(stream) {
  const reader = stream.getReader();
  const parts = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_PLAIN) {
      await reader.cancel();
      throw new Shown('A file of the record is larger than this viewer opens.');
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const inflate = (bytes) => readCapped(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw')));

/** Decrypts a compact JWE with the link's key; returns `{contentType, text}`. */
async function decrypt(file) {
  const failed = new Shown('Part of the record could not be decrypted: the link or the file is damaged.');
  const parts = String(file.jwe).trim().split('.');
  if (parts.length !== 5) throw failed;
  let header;
  try { header = JSON.parse(utf8(b64urlBytes(parts[0]))); } catch (_) { throw failed; }
  if (header.alg !== 'dir' || header.enc !== 'A256GCM') throw failed;
  let plain;
  try {
    const key = await crypto.subtle.importKey('raw', link.keyBytes, 'AES-GCM', false, ['decrypt']);
    const ct = b64urlBytes(parts[3]);
    const tag = b64urlBytes(parts[4]);
    const data = new Uint8Array(ct.length + tag.length);
    data.set(ct);
    data.set(tag, ct.length);
    plain = new Uint8Array(await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: b64urlBytes(parts[2]), additionalData: new TextEncoder().encode(parts[0]), tagLength: 128 },
      key, data));
  } catch (_) { throw failed; }
  if (header.zip === 'DEF') {
    try { plain = await inflate(plain); } catch (e) { throw e instanceof Shown ? e : failed; }
  }
  if (plain.length > MAX_PLAIN) throw new Shown('A file of the record is larger than this viewer opens.');
  return { contentType: header.cty || file.contentType || 'application/fhir+json', text: utf8(plain) };
}

/** FHIR resources in a decrypted file (a Bundle, a resource, or a SMART Health Card). */
async function resourcesOf(file) {
  const value = JSON.parse(file.text);
  if (file.contentType === 'application/smart-health-card' && Array.isArray(value.verifiableCredential)) {
    const out = [];
    for (const jws of value.verifiableCredential) {
      const payload = JSON.parse(utf8(await inflate(b64urlBytes(String(jws).split('.')[1] || ''))));
      const bundle = payload && payload.vc && payload.vc.credentialSubject && payload.vc.credentialSubject.fhirBundle;
      if (bundle) out.push(bundle);
    }
    return out;
  }
  return [value];
}

// ---- reading FHIR -------------------------------------------------------------------------

const str = (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A CodeableConcept (or Coding) as its display text, with the code on demand. */
function concept(cc) {
  if (!cc || typeof cc !== 'object') return el('span', {}, '');
  const codings = Array.isArray(cc.coding) ? cc.coding : cc.code ? [cc] : [];
  const first = codings.find((c) => c && (c.display || c.code)) || {};
  const text = str(cc.text) || str(first.display) || str(first.code) || 'Unnamed';
  const codes = codings.filter((c) => c && c.code).map((c) => `${short(str(c.system))} ${str(c.code)}`).join(', ');
  return el('span', {}, el('span', { class: 'concept' }, text), codes ? el('span', { class: 'code' }, `(${codes})`) : '');
}

function short(system) {
  const known = { 'http://snomed.info/sct': 'SNOMED', 'http://loinc.org': 'LOINC', 'http://www.nlm.nih.gov/research/umls/rxnorm': 'RxNorm', 'http://hl7.org/fhir/sid/cvx': 'CVX', 'http://hl7.org/fhir/sid/icd-10-cm': 'ICD-10-CM' };
  return known[system] || system;
}

function conceptText(cc) {
  if (!cc) return '';
  const c = (Array.isArray(cc.coding) && cc.coding[0]) || {};
  return str(cc.text) || str(c.display) || str(c.code);
}

/** A FHIR date or dateTime as its calendar day (as written: no time zone shifts a birth date). */
function day(v) {
  return str(v).slice(0, 10);
}

function when(r) {
  return str(r.effectiveDateTime) || str(r.occurrenceDateTime) || str(r.performedDateTime) || str(r.authoredOn)
    || str(r.recordedDate) || str(r.onsetDateTime) || str(r.issued) || str(r.date)
    || str(r.effectivePeriod && r.effectivePeriod.start) || str(r.performedPeriod && r.performedPeriod.start)
    || str(r.period && r.period.start) || '';
}

function quantity(q) {
  if (!q || q.value === undefined) return '';
  return `${str(q.value)} ${str(q.unit) || str(q.code)}`.trim();
}

function obsValue(o) {
  if (o.valueQuantity) return quantity(o.valueQuantity);
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (o.valueString !== undefined) return str(o.valueString);
  if (o.valueBoolean !== undefined) return o.valueBoolean ? 'yes' : 'no';
  if (o.valueInteger !== undefined) return str(o.valueInteger);
  if (Array.isArray(o.component)) {
    const parts = o.component.map((c) => (c.valueQuantity ? str(c.valueQuantity.value) : '')).filter(Boolean);
    const unit = o.component[0] && o.component[0].valueQuantity ? str(o.component[0].valueQuantity.unit) : '';
    return parts.length ? `${parts.join('/')} ${unit}`.trim() : '';
  }
  return '';
}

function humanName(p) {
  const n = (Array.isArray(p.name) && p.name[0]) || {};
  const given = Array.isArray(n.given) ? n.given.map(str).join(' ') : str(n.given);
  return str(n.text) || [given, str(n.family)].filter(Boolean).join(' ') || 'Unnamed patient';
}

function item(title, ...details) {
  return el('li', {}, el('div', { class: 'title' }, title), ...details.filter(Boolean).map((d) => el('div', { class: 'detail' }, d)));
}

const renderers = {
  AllergyIntolerance(r) {
    const crit = str(r.criticality);
    const reactions = (Array.isArray(r.reaction) ? r.reaction : []).map((x) => {
      const m = (Array.isArray(x.manifestation) ? x.manifestation : []).map(conceptText).filter(Boolean).join(', ');
      return [m, str(x.severity)].filter(Boolean).join(' — ');
    }).filter(Boolean);
    return item(el('span', {}, concept(r.code), crit ? el('span', { class: `badge${crit === 'high' ? ' high' : ''}` }, `criticality ${crit}`) : ''),
      reactions.length ? `Reaction: ${reactions.join('; ')}` : '',
      [conceptText(r.clinicalStatus), day(r.recordedDate || r.onsetDateTime)].filter(Boolean).join(' · '));
  },
  MedicationRequest(r, index) { return medication(r, index, r.dosageInstruction); },
  MedicationStatement(r, index) { return medication(r, index, r.dosage); },
  Condition(r) {
    return item(concept(r.code), [conceptText(r.clinicalStatus), r.onsetDateTime ? `since ${day(r.onsetDateTime)}` : ''].filter(Boolean).join(' · '));
  },
  Immunization(r) {
    return item(concept(r.vaccineCode), [day(r.occurrenceDateTime || r.occurrenceString), str(r.status)].filter(Boolean).join(' · '));
  },
  Procedure(r) { return item(concept(r.code), day(when(r))); },
  Encounter(r) { return item(concept((Array.isArray(r.type) && r.type[0]) || r.class), day(when(r))); },
};

function medication(r, index, dosage) {
  let name = r.medicationCodeableConcept ? concept(r.medicationCodeableConcept) : null;
  if (!name && r.medicationReference) {
    const med = index.get(str(r.medicationReference.reference));
    name = med && med.code ? concept(med.code) : el('span', {}, str(r.medicationReference.display) || 'Medication');
  }
  const dose = (Array.isArray(dosage) ? dosage : []).map((d) => str(d.text) || doseText(d)).filter(Boolean).join('; ');
  return item(name || el('span', {}, 'Medication'), dose ? `Dosage: ${dose}` : '', [str(r.status), day(when(r))].filter(Boolean).join(' · '));
}

function doseText(d) {
  const dr = Array.isArray(d.doseAndRate) && d.doseAndRate[0];
  const dose = dr && dr.doseQuantity ? quantity(dr.doseQuantity) : '';
  const rep = d.timing && d.timing.repeat;
  const freq = rep && rep.frequency ? `${str(rep.frequency)} per ${str(rep.period)} ${str(rep.periodUnit)}` : '';
  return [dose, freq].filter(Boolean).join(', ');
}

/** A table of observations (newest first) and a chart for each code with 3+ numbers. */
function results(observations) {
  const sorted = observations.slice().sort((a, b) => when(b).localeCompare(when(a)));
  const rows = sorted.slice(0, 200).map((o) => el('tr', {}, el('td', {}, day(when(o))), el('td', {}, concept(o.code)),
    el('td', {}, obsValue(o)), el('td', {}, conceptText(Array.isArray(o.interpretation) && o.interpretation[0]))));
  const table = el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, el('th', {}, 'Date'), el('th', {}, 'Test'), el('th', {}, 'Result'), el('th', {}, ''))),
    el('tbody', {}, rows)));
  const series = new Map();
  for (const o of sorted) {
    const v = o.valueQuantity ? Number(o.valueQuantity.value)
      : Array.isArray(o.component) && o.component[0] && o.component[0].valueQuantity ? Number(o.component[0].valueQuantity.value) : NaN;
    const t = Date.parse(when(o));
    if (!Number.isFinite(v) || !Number.isFinite(t)) continue;
    const k = conceptText(o.code);
    if (!series.has(k)) series.set(k, { unit: o.valueQuantity ? str(o.valueQuantity.unit) : str(o.component[0].valueQuantity.unit), points: [] });
    series.get(k).points.push([t, v]);
  }
  const charts = [...series].filter(([, s]) => s.points.length >= 3).slice(0, 6).map(([name, s]) => chart(name, s));
  return [table, ...charts];
}

function chart(name, s) {
  const NS = 'http://www.w3.org/2000/svg';
  const pts = s.points.slice(0, 60).sort((a, b) => a[0] - b[0]);
  const [t0, t1] = [pts[0][0], pts[pts.length - 1][0]];
  const vs = pts.map((p) => p[1]);
  const [lo, hi] = [Math.min(...vs), Math.max(...vs)];
  const x = (t) => 10 + (t1 > t0 ? ((t - t0) / (t1 - t0)) * 400 : 200);
  const y = (v) => 80 - (hi > lo ? ((v - lo) / (hi - lo)) * 70 : 35);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 420 90');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${name}: ${pts.length} values`);
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' '));
  svg.append(line);
  for (const p of pts) {
    const c = document.createElementNS(NS, 'circle');
    c.setAttribute('cx', x(p[0]).toFixed(1));
    c.setAttribute('cy', y(p[1]).toFixed(1));
    c.setAttribute('r', '2.5');
    svg.append(c);
  }
  const last = pts[pts.length - 1];
  return el('figure', { class: 'chart' }, svg,
    el('figcaption', {}, `${name}: ${pts.length} values, ${lo}–${hi} ${s.unit}; latest ${last[1]} ${s.unit} on ${new Date(last[0]).toISOString().slice(0, 10)}`));
}

/** Download links for the documents a resource carries (only data it holds; URLs as text). */
function documents(r) {
  const atts = [];
  if (r.resourceType === 'DocumentReference') (r.content || []).forEach((c) => c && c.attachment && atts.push(c.attachment));
  if (r.resourceType === 'DiagnosticReport') (r.presentedForm || []).forEach((a) => atts.push(a));
  if (r.resourceType === 'Media' && r.content) atts.push(r.content);
  if (r.resourceType === 'Binary') {
    const sphr = str(r.contentType) === 'application/zip';
    atts.push({ data: r.data, contentType: r.contentType, title: sphr ? 'record.sphr' : 'document' });
  }
  const title = conceptText(r.type) || str(r.description) || conceptText(r.code) || (r.resourceType === 'Binary' ? 'Whole record (.sphr file, opens in phrkit)' : 'Document');
  const links = atts.map((a) => {
    const name = str(a.title) || 'document';
    if (typeof a.data === 'string') {
      let bytes;
      try { bytes = b64urlBytes(a.data); } catch (_) { return el('div', { class: 'detail' }, `${name}: unreadable data`); }
      const type = /^[\w.+-]+\/[\w.+-]+$/.test(str(a.contentType)) ? str(a.contentType) : 'application/octet-stream';
      const url = URL.createObjectURL(new Blob([bytes], { type }));
      return el('a', { class: 'download', href: url, download: name.replace(/[\\/:*?"<>|]/g, '_') }, `Download ${name} (${Math.ceil(bytes.length / 1024)} KB)`);
    }
    return el('div', { class: 'detail' }, a.url ? `${name}: at ${str(a.url)} (not fetched)` : name);
  });
  return el('li', {}, el('div', { class: 'title' }, title), el('div', { class: 'detail' }, day(when(r))), links);
}

function generic(r) {
  const label = conceptText(r.code) || conceptText(r.type && (Array.isArray(r.type) ? r.type[0] : r.type)) || str(r.name && (typeof r.name === 'string' ? r.name : '')) || str(r.title) || str(r.description) || str(r.id);
  return item(el('span', {}, label || r.resourceType), day(when(r)));
}

function render(r, index) {
  if (['DocumentReference', 'DiagnosticReport', 'Media', 'Binary'].includes(r.resourceType) && (r.resourceType !== 'DiagnosticReport' || r.presentedForm)) {
    return documents(r);
  }
  const f = renderers[r.resourceType];
  return f ? f(r, index) : generic(r);
}

function part(title, resources, index) {
  const body = resources.length === 0 ? [el('p', { class: 'muted' }, 'None recorded.')]
    : resources.every((r) => r.resourceType === 'Observation') ? results(resources)
    : [el('ul', { class: 'items' }, resources.map((r) => render(r, index)))];
  return el('section', { class: 'part' }, el('h2', {}, title), body);
}

function patientCard(p) {
  const ids = (Array.isArray(p.identifier) ? p.identifier : []).slice(0, 4)
    .map((i) => `${conceptText(i.type) || short(str(i.system)) || 'id'}: ${str(i.value)}`);
  const rows = [['Born', day(p.birthDate)], ['Sex', str(p.gender)], ...ids.map((t) => ['Identifier', t])].filter(([, v]) => v);
  return el('div', { class: 'patient' }, el('h2', {}, humanName(p)),
    el('dl', {}, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
}

const ORDER = [
  ['AllergyIntolerance', 'Allergies and intolerances'],
  ['MedicationRequest', 'Medications'], ['MedicationStatement', 'Medications'],
  ['Condition', 'Problems'], ['Immunization', 'Immunizations'], ['Observation', 'Results'],
  ['Procedure', 'Procedures'], ['DocumentReference', 'Documents'], ['DiagnosticReport', 'Reports'],
  ['Media', 'Documents'], ['Binary', 'Documents'], ['Encounter', 'Visits'],
];
const QUIET = new Set(['Patient', 'Composition', 'Provenance', 'Practitioner', 'PractitionerRole', 'Organization', 'Location', 'Medication', 'Device', 'List', 'AuditEvent']);

function show(roots) {
  const all = [];
  const index = new Map();
  const walk = (v) => {
    if (!v || typeof v !== 'object') return;
    if (v.resourceType === 'Bundle') {
      for (const e of Array.isArray(v.entry) ? v.entry : []) {
        if (e && e.resource) {
          all.push(e.resource);
          if (e.fullUrl) index.set(str(e.fullUrl), e.resource);
        }
      }
    } else if (v.resourceType) {
      all.push(v);
    }
  };
  roots.forEach(walk);
  for (const r of all) index.set(`${r.resourceType}/${r.id}`, r);
  const out = byId('record');
  out.replaceChildren();
  all.filter((r) => r.resourceType === 'Patient').slice(0, 3).forEach((p) => out.append(patientCard(p)));
  const composition = all.find((r) => r.resourceType === 'Composition' && Array.isArray(r.section));
  const placed = new Set();
  if (composition && !isPhrkitCover(composition)) {
    for (const s of composition.section) {
      const entries = (Array.isArray(s.entry) ? s.entry : []).map((ref) => index.get(str(ref.reference))).filter(Boolean);
      entries.forEach((r) => placed.add(r));
      out.append(part(str(s.title) || conceptText(s.code) || 'Section', entries, index));
    }
  }
  const groups = new Map();
  for (const r of all) {
    if (placed.has(r) || QUIET.has(r.resourceType)) continue;
    const known = ORDER.find(([t]) => t === r.resourceType);
    const title = known ? known[1] : r.resourceType;
    if (!groups.has(title)) groups.set(title, []);
    groups.get(title).push(r);
  }
  const rank = (t) => { const i = ORDER.findIndex(([, title]) => title === t); return i < 0 ? 99 : i; };
  [...groups].sort((a, b) => rank(a[0]) - rank(b[0])).forEach(([title, rs]) => out.append(part(title, rs, index)));
  byId('tools').hidden = false;
  byId('refresh').hidden = !link.flag.includes('L');
}

function isPhrkitCover(c) {
  return Array.isArray(c.meta && c.meta.tag) && c.meta.tag.some((t) => t && t.code === 'export-cover');
}

// ---- the page -------------------------------------------------------------------------------

async function open() {
  const go = byId('go');
  go.disabled = true;
  byId('refresh').disabled = true;
  status('Opening…');
  try {
    const roots = [];
    for (const f of await files()) {
      for (const r of await resourcesOf(await decrypt(f))) roots.push(r);
    }
    show(roots);
    byId('open').hidden = true;
    status(link.flag.includes('L') ? 'This link is kept up to date: Refresh fetches the newest record.' : '');
  } catch (e) {
    status(e instanceof Shown ? e.message : 'The record could not be shown: it is not in a form this viewer reads.', true);
    if (e.retryAfter) {
      setTimeout(() => { go.disabled = false; byId('refresh').disabled = false; }, e.retryAfter * 1000);
      return;
    }
  }
  go.disabled = false;
  byId('refresh').disabled = false;
}

function start(text) {
  try {
    link = parseLink(text);
  } catch (e) {
    status(`This is not a link the viewer can open (${e.message}).`, true);
    return;
  }
  if (!link) {
    byId('paste').hidden = false;
    return;
  }
  byId('paste').hidden = true;
  showLink();
}

document.addEventListener('DOMContentLoaded', () => {
  byId('open').addEventListener('submit', (ev) => {
    ev.preventDefault();
    lastRecipient = byId('recipient').value.trim();
    lastPasscode = byId('passcode').value;
    open();
  });
  byId('use').addEventListener('click', () => start(byId('pasted').value));
  byId('refresh').addEventListener('click', open);
  byId('print').addEventListener('click', () => window.print());
  byId('codes').addEventListener('change', (ev) => document.body.classList.toggle('show-codes', ev.target.checked));
  start(location.href);
});
