// CoAP over WebSockets (RFC 8323 §4) on the npm `ws` package: an
// independent WebSocket implementation facing coreseal. The CoAP here is
// minimal on purpose (GET, Uri-Path, CSM, Ping/Pong): what is tested is
// the WebSocket layer and RFC 8323's framing on it.
//   node ws_peer.js get ws://HOST:PORT/.well-known/coap PATH   -> payload on stdout
//   node ws_peer.js server PORT                                -> answers GETs with "ws peer: PATH"
'use strict';
const WebSocket = require('ws');

function encodeOptions(opts) { // [[num, Buffer]] sorted
  const parts = [];
  let prev = 0;
  for (const [num, val] of opts) {
    const nib = (v) => (v < 13 ? [v, []] : v < 269 ? [13, [v - 13]] : [14, [(v - 269) >> 8, (v - 269) & 255]]);
    const [dn, dx] = nib(num - prev), [ln, lx] = nib(val.length);
    parts.push(Buffer.from([(dn << 4) | ln, ...dx, ...lx]), val);
    prev = num;
  }
  return Buffer.concat(parts);
}

function message(code, token, opts, payload) { // RFC 8323 §4.2: Len 0, TKL, Code, Token
  const p = payload && payload.length ? Buffer.concat([Buffer.from([0xff]), payload]) : Buffer.alloc(0);
  return Buffer.concat([Buffer.from([token.length, code]), token, encodeOptions(opts), p]);
}

function parse(buf) {
  const tkl = buf[0] & 15, code = buf[1], token = buf.subarray(2, 2 + tkl);
  let i = 2 + tkl, num = 0;
  const opts = [];
  while (i < buf.length && buf[i] !== 0xff) {
    let d = buf[i] >> 4, l = buf[i] & 15;
    i++;
    if (d === 13) d = buf[i++] + 13; else if (d === 14) { d = (buf[i] << 8 | buf[i + 1]) + 269; i += 2; }
    if (l === 13) l = buf[i++] + 13; else if (l === 14) { l = (buf[i] << 8 | buf[i + 1]) + 269; i += 2; }
    num += d;
    opts.push([num, buf.subarray(i, i + l)]);
    i += l;
  }
  const payload = i < buf.length ? buf.subarray(i + 1) : Buffer.alloc(0);
  return { code, token, opts, payload };
}

const CSM = 0xe1, PING = 0xe2, PONG = 0xe3;
const [mode, arg, path] = process.argv.slice(2);

if (mode === 'get') {
  const ws = new WebSocket(arg, 'coap');
  const token = Buffer.from([0x42, 0x43]);
  let sawCsm = false;
  const timer = setTimeout(() => { console.error('ws peer: no answer'); process.exit(2); }, 5000);
  ws.on('open', () => {
    ws.send(message(CSM, Buffer.alloc(0), [], null));
    const segs = path.split('/').filter((s) => s.length).map((s) => [11, Buffer.from(s)]);
    ws.send(message(0x01, token, segs, null));
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) { console.error('ws peer: a text frame'); process.exit(3); }
    const m = parse(Buffer.from(data));
    if (m.code === CSM) { sawCsm = true; return; }
    if (!sawCsm) { console.error('ws peer: the first message was not a CSM'); process.exit(3); }
    if (m.token.equals(token)) {
      clearTimeout(timer);
      process.stdout.write(m.payload);
      process.stderr.write(`ws peer: ${m.code >> 5}.${String(m.code & 31).padStart(2, '0')}, protocol ${ws.protocol}\n`);
      ws.close(1000);
      process.exitCode = (m.code >> 5) === 2 ? 0 : 4;
    }
  });
  ws.on('error', (e) => { console.error('ws peer:', e.message); process.exit(2); });
} else if (mode === 'server') {
  const wss = new WebSocket.Server({
    port: Number(arg), host: '127.0.0.1', path: '/.well-known/coap',
    handleProtocols: (protocols) => (protocols.has('coap') ? 'coap' : false),
  });
  wss.on('connection', (ws) => {
    ws.send(message(CSM, Buffer.alloc(0), [[2, Buffer.from([0x04, 0x80])]], null));
    ws.on('message', (data) => {
      const m = parse(Buffer.from(data));
      if (m.code === PING) { ws.send(message(PONG, m.token, [], null)); return; }
      if (m.code >> 5 === 7) return; // CSM, Pong...
      const p = '/' + m.opts.filter(([n]) => n === 11).map(([, v]) => v.toString()).join('/');
      ws.send(message(0x45, m.token, [[12, Buffer.from([0])]], Buffer.from(`ws peer: ${p}`)));
    });
  });
  wss.on('listening', () => console.log('ws peer listening'));
} else {
  console.error('usage: ws_peer.js get URL PATH | server PORT');
  process.exit(1);
}
