// echo_node.js — owns the node-ws echo peer for zenws interop tests (Debian node-ws 8.11, NODE_PATH=/usr/share/nodejs).
//
//   NODE_PATH=/usr/share/nodejs node echo_node.js [--port N] [--tls CERT KEY] [--deflate]
//   prints "READY <port>" once listening on 127.0.0.1; runs until killed or until stdin (when a pipe) closes.
//
// Echoes every message with the same opcode. Text messages starting with "!" are fault commands instead:
//   !drop              destroy the socket (no close frame: the client sees 1006)
//   !close CODE REASON close handshake with that code and reason
//   !nopong            stop answering pings on this connection
//   !frag              send "Hello, World" as a fragmented text message ("Hello, " + "World")
//   !fragbin           send bytes 00..09 as a binary message in 3 fragments
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
let port = 0, tls = null, deflate = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--tls') { tls = { cert: fs.readFileSync(args[i + 1]), key: fs.readFileSync(args[i + 2]) }; i += 2; }
  else if (args[i] === '--deflate') deflate = true;
  else { console.error('unknown argument ' + args[i]); process.exit(2); }
}

const server = tls ? https.createServer(tls) : http.createServer();
server.on('request', (req, res) => { res.writeHead(426, { 'Content-Type': 'text/plain' }); res.end('WebSocket only\n'); });
const wss = new WebSocketServer({ server, maxPayload: 64 * 1024 * 1024, perMessageDeflate: deflate ? { threshold: 0 } : false });

wss.on('connection', (ws) => {
  ws.on('error', () => {});
  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      const text = data.toString();
      if (text.startsWith('!')) {
        const parts = text.split(' ');
        switch (parts[0]) {
          case '!drop': ws._socket.destroy(); return;
          case '!close': ws.close(Number(parts[1] || 1000), parts.slice(2).join(' ')); return;
          case '!nopong': ws.pong = () => {}; return;  // 8.11 auto-pongs through ws.pong
          case '!frag': ws.send('Hello, ', { fin: false }); ws.send('World', { fin: true }); return;
          case '!fragbin':
            ws.send(Buffer.from([0, 1, 2]), { binary: true, fin: false });
            ws.send(Buffer.from([3, 4, 5, 6]), { binary: true, fin: false });
            ws.send(Buffer.from([7, 8, 9]), { binary: true, fin: true });
            return;
          default: break;  // unknown command: echo it
        }
      }
    }
    ws.send(data, { binary: isBinary });
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write('READY ' + server.address().port + '\n');
});

try {
  if (fs.fstatSync(0).isFIFO()) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
  }
} catch (e) { /* no stdin */ }
process.on('SIGTERM', () => process.exit(0));
