// kill-the-clipboard (npm, an independent SMART Health Links implementation) run against
// phrkit's output. Usage:
//   node ktc.mjs parse <link>                       -> JSON summary of the payload
//   node ktc.mjs resolve <link> <recipient> [passcode] [embeddedLengthMax]
//                                                  -> JSON {files, types, embedded, located}
//   node ktc.mjs decrypt <key>  (JWE on stdin)      -> plaintext on stdout
//   node ktc.mjs encrypt <key> <contentType> <zip:true|false> (plaintext on stdin) -> JWE
import { SHL, SHLViewer, decryptSHLFile, encryptSHLFile } from 'kill-the-clipboard';

const [cmd, ...args] = process.argv.slice(2);
const stdin = async () => {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
};

try {
  if (cmd === 'parse') {
    const shl = SHL.parse(args[0]);
    console.log(JSON.stringify({ url: shl.url, flag: shl.flag ?? null, label: shl.label ?? null,
      exp: shl.exp ?? null, keyLength: shl.key.length, passcode: shl.requiresPasscode }));
  } else if (cmd === 'resolve') {
    const [link, recipient, passcode, max] = args;
    let embedded = 0, located = 0;
    const countingFetch = async (url, options) => {
      const res = await fetch(url, options);
      if (options?.method === 'POST' && res.ok) {
        const manifest = await res.clone().json();
        for (const f of manifest.files ?? []) { if (f.embedded) embedded++; if (f.location) located++; }
      }
      return res;
    };
    const viewer = new SHLViewer({ shlinkURI: link, fetch: countingFetch });
    const params = { recipient };
    if (passcode) params.passcode = passcode;
    if (max) params.embeddedLengthMax = Number(max);
    const out = await viewer.resolveSHL(params);
    const types = out.fhirResources.map((r) => `${r.resourceType}:${r.type ?? ''}`);
    console.log(JSON.stringify({ files: out.fhirResources.length, types, embedded, located }));
  } else if (cmd === 'decrypt') {
    const { content, contentType } = await decryptSHLFile({ jwe: (await stdin()).trim(), key: args[0] });
    process.stdout.write(JSON.stringify({ contentType, content }));
  } else if (cmd === 'encrypt') {
    const jwe = await encryptSHLFile({ content: await stdin(), key: args[0], contentType: args[1],
      enableCompression: args[2] === 'true' });
    process.stdout.write(jwe);
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
} catch (e) {
  console.error(`${e.name}: ${e.message}`);
  process.exit(1);
}
