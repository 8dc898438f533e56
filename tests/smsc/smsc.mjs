// An independent SMSC for the conformance tests of internal/smpp, built on the
// npm smpp package (a separate SMPP implementation). It accepts binds with the
// configured credentials, answers submit_sm with message ids, sends delivery
// receipts as deliver_sm, and is steered over a small HTTP control port:
//
//   GET  /state     binds, submits as this side decoded them, reassembled
//                   messages, unbinds, enquire_links, window figures
//   GET  /counts    the figures of /state without the submits and messages
//                   (cheap to poll while thousands come in), with the
//                   times (ms since the epoch) of the first and last submit_sm
//   POST /config    {"submitStatus": n, "receiptDelay": ms, "responseDelay": ms,
//                    "receipts": {dest: {"stat": "UNDELIV", "err": "034"}}}
//   POST /hold      hold submit_sm responses (to fill the client's window)
//   POST /release   answer every held submit_sm
//   POST /mo        {"source", "dest", "parts": [...], "encoding": "gsm"|"ucs2", "concat": "udh"|"sar", "ref": n}
//                   send a mobile-originated message; answers with the deliver_sm_resp statuses
//   POST /drop      destroy every connection (no unbind)
//   POST /unbind    send unbind on every bound session
//
// Usage: node smsc.mjs --system-id ID --password PW [--port 0] [--control 0]
// It prints {"smpp": port, "control": port} on one line once listening.
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const smpp = require('smpp');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const systemID = args['system-id'] ?? 'tidings';
const password = args.password ?? 'secret';

const config = { submitStatus: 0, receiptDelay: 20, responseDelay: 0, receipts: {} };
const state = {
  connections: 0,
  binds: [],
  unbinds: 0,
  enquireLinks: 0,
  submits: [],
  inFlight: 0,
  maxInFlight: 0,
  receiptsSent: 0, // answered by the ESME (deliver_sm_resp)
  receiptsRefused: 0, // of which with an error status
  firstSubmitAt: 0,
  lastSubmitAt: 0,
};
let hold = false;
let held = [];
let nextID = 1;
const bound = new Set();

const log = (...a) => process.stderr.write(`smsc: ${a.join(' ')}\n`);

// Decodes the text of one submit_sm as this library does: GSM 03.38 for
// data_coding 0, UCS-2 for 8, Latin-1 for 3.
function text(pdu) {
  const sm = pdu.short_message;
  if (sm && typeof sm === 'object' && !Buffer.isBuffer(sm)) return sm.message ?? '';
  if (typeof sm === 'string') return sm;
  return '';
}

function concatOf(pdu) {
  const sm = pdu.short_message;
  if (sm && sm.udh) {
    for (const ie of sm.udh) {
      if (ie[0] === 0x00 && ie.length === 5) return { ref: ie[2], total: ie[3], seq: ie[4], via: 'udh' };
      if (ie[0] === 0x08 && ie.length === 6) return { ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5], via: 'udh16' };
    }
  }
  if (pdu.sar_msg_ref_num !== undefined) {
    return { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum, via: 'sar' };
  }
  return null;
}

// Whole messages: single submits as they are, concatenated ones once every
// part is in, their texts joined in part order.
function messages() {
  const out = [];
  const groups = new Map();
  for (const s of state.submits) {
    if (!s.concat) {
      out.push({ source: s.source, dest: s.dest, dataCoding: s.dataCoding, text: s.text, parts: 1, ids: [s.messageID] });
      continue;
    }
    const key = `${s.source}|${s.dest}|${s.concat.ref}|${s.concat.total}`;
    if (!groups.has(key)) {
      const g = { source: s.source, dest: s.dest, dataCoding: s.dataCoding, total: s.concat.total, parts: [] };
      groups.set(key, g);
      out.push(g);
    }
    groups.get(key).parts[s.concat.seq - 1] = s;
  }
  return out.map((m) => {
    if (!m.total) return m;
    const complete = m.parts.filter(Boolean).length === m.total;
    return {
      source: m.source, dest: m.dest, dataCoding: m.dataCoding, parts: m.total, complete,
      text: m.parts.map((p) => (p ? p.text : '')).join(''),
      ids: m.parts.map((p) => (p ? p.messageID : '')),
    };
  });
}

function pad(n) { return String(n).padStart(2, '0'); }
function smppDate(d) {
  return `${pad(d.getUTCFullYear() % 100)}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
}

const stateCodes = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

function sendReceipt(origin, sub, submitted) {
  const r = config.receipts[sub.dest] ?? { stat: 'DELIVRD', err: '000' };
  const body = `id:${sub.messageID} sub:001 dlvrd:${r.stat === 'DELIVRD' ? '001' : '000'} ` +
    `submit date:${smppDate(submitted)} done date:${smppDate(new Date())} stat:${r.stat} err:${r.err} text:${sub.text.slice(0, 20)}`;
  const session = bound.has(origin) ? origin : [...bound].find((s) => s.mode !== 'bind_transmitter');
  if (!session) {
    log('receipt dropped: no bound session');
    return;
  }
  const pdu = {
    source_addr: sub.dest,
    destination_addr: sub.source,
    esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
    data_coding: 0,
    short_message: Buffer.from(smpp.encodings.ASCII.encode(body)),
    receipted_message_id: sub.messageID,
    message_state: stateCodes[r.stat] ?? 7,
  };
  if (r.stat !== 'DELIVRD') pdu.network_error_code = Buffer.from([3, 0, Number(r.err) || 0]);
  session.deliver_sm(pdu, (resp) => {
    state.receiptsSent++;
    if (resp.command_status) state.receiptsRefused++;
  });
}

function respondSubmit(session, pdu, sub) {
  state.inFlight--;
  if (config.submitStatus) {
    session.send(pdu.response({ command_status: config.submitStatus }));
    return;
  }
  session.send(pdu.response({ message_id: sub.messageID }));
  if (pdu.registered_delivery & 1) {
    const submitted = new Date();
    setTimeout(() => sendReceipt(session, sub, submitted), config.receiptDelay);
  }
}

const server = smpp.createServer((session) => {
  state.connections++;
  session.on('error', (e) => log('session error:', e.message));
  session.on('close', () => bound.delete(session));
  const onBind = (command) => (pdu) => {
    const entry = { command, systemID: pdu.system_id, systemType: pdu.system_type, interfaceVersion: pdu.interface_version };
    let status = 0;
    if (pdu.system_id !== systemID) status = smpp.ESME_RINVSYSID;
    else if (pdu.password !== password) status = smpp.ESME_RINVPASWD;
    entry.status = status;
    state.binds.push(entry);
    if (status) {
      session.send(pdu.response({ command_status: status }));
      session.close();
      return;
    }
    session.mode = command;
    bound.add(session);
    session.send(pdu.response({ system_id: 'node-smsc' }));
  };
  for (const c of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) session.on(c, onBind(c));
  session.on('enquire_link', (pdu) => {
    state.enquireLinks++;
    session.send(pdu.response());
  });
  session.on('unbind', (pdu) => {
    state.unbinds++;
    bound.delete(session);
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    if (!bound.has(session)) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    const sm = pdu.short_message;
    const sub = {
      sequence: pdu.sequence_number,
      source: pdu.source_addr, sourceTON: pdu.source_addr_ton, sourceNPI: pdu.source_addr_npi,
      dest: pdu.destination_addr, destTON: pdu.dest_addr_ton, destNPI: pdu.dest_addr_npi,
      dataCoding: pdu.data_coding, esmClass: pdu.esm_class, registeredDelivery: pdu.registered_delivery,
      smLength: pdu.sm_length,
      udh: sm && sm.udh ? Buffer.concat([Buffer.from([sm.udh.reduce((n, ie) => n + ie.length, 0)]), ...sm.udh]).toString('hex') : null,
      text: text(pdu),
      concat: concatOf(pdu),
      messageID: `node-${(nextID++).toString(16).padStart(6, '0')}`,
    };
    state.submits.push(sub);
    state.lastSubmitAt = Date.now();
    if (!state.firstSubmitAt) state.firstSubmitAt = state.lastSubmitAt;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    if (hold) held.push(() => respondSubmit(session, pdu, sub));
    else if (config.responseDelay) setTimeout(() => respondSubmit(session, pdu, sub), config.responseDelay);
    else respondSubmit(session, pdu, sub);
  });
  session.on('deliver_sm_resp', () => {});
  session.on('unknown', (pdu) => session.send(pdu.response()));
});

function moPDUs(req) {
  const enc = req.encoding === 'ucs2' ? smpp.encodings.UCS2 : smpp.encodings.ASCII;
  const dataCoding = req.encoding === 'ucs2' ? 8 : 0;
  const parts = req.parts;
  const ref = req.ref ?? 42;
  return parts.map((p, i) => {
    const body = Buffer.from(enc.encode(p));
    const pdu = { source_addr: req.source, destination_addr: req.dest, source_addr_ton: 1, source_addr_npi: 1, data_coding: dataCoding, esm_class: 0 };
    if (parts.length > 1 && req.concat === 'sar') {
      pdu.sar_msg_ref_num = ref;
      pdu.sar_total_segments = parts.length;
      pdu.sar_segment_seqnum = i + 1;
      pdu.short_message = body;
    } else if (parts.length > 1) {
      pdu.esm_class = smpp.ESM_CLASS.UDH_INDICATOR;
      pdu.short_message = Buffer.concat([Buffer.from([5, 0, 3, ref, parts.length, i + 1]), body]);
    } else {
      pdu.short_message = body;
    }
    return pdu;
  });
}

async function readBody(req) {
  let data = '';
  for await (const chunk of req) data += chunk;
  return data ? JSON.parse(data) : {};
}

const control = http.createServer(async (req, res) => {
  const reply = (code, obj) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  try {
    const body = await readBody(req);
    const route = `${req.method} ${req.url}`;
    switch (route) {
      case 'GET /state':
        return reply(200, { ...state, bound: bound.size, held: held.length, messages: messages() });
      case 'GET /counts': {
        const { submits, binds, ...counts } = state;
        return reply(200, { ...counts, submits: submits.length, binds: binds.length, bound: bound.size, held: held.length });
      }
      case 'POST /config':
        Object.assign(config, body);
        return reply(200, config);
      case 'POST /hold':
        hold = true;
        return reply(200, {});
      case 'POST /release': {
        hold = false;
        const h = held;
        held = [];
        h.forEach((f) => f());
        return reply(200, { released: h.length });
      }
      case 'POST /drop': {
        const n = server.sessions.length;
        for (const s of [...server.sessions]) s.destroy();
        bound.clear();
        held = [];
        state.inFlight = 0;
        return reply(200, { dropped: n });
      }
      case 'POST /unbind': {
        for (const s of [...bound]) s.unbind();
        return reply(200, {});
      }
      case 'POST /mo': {
        const session = [...bound].find((s) => s.mode !== 'bind_transmitter');
        if (!session) return reply(409, { error: 'no receiver bound' });
        const statuses = [];
        for (const pdu of moPDUs(body)) {
          statuses.push(await new Promise((resolve) => {
            session.deliver_sm(pdu, (resp) => resolve(resp.command_status));
          }));
        }
        return reply(200, { statuses });
      }
      default:
        return reply(404, { error: `no route ${route}` });
    }
  } catch (e) {
    return reply(500, { error: String(e && e.stack || e) });
  }
});

server.listen(Number(args.port ?? 0), '127.0.0.1', () => {
  control.listen(Number(args.control ?? 0), '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ smpp: server.address().port, control: control.address().port })}\n`);
  });
});

// The Go tests close stdin to stop this process.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
