/**
 * The long-poll app of the memory benchmark: every request is held, unanswered, until a request
 * for /release arrives (on any app of the process); then every held request gets its 200.
 * Module state is shared because every app of the config imports this same module URL.
 */
const held = [];

export default function longPoll(req, res) {
  if (req.url === '/release') {
    const count = held.length;
    for (const waiting of held.splice(0)) {
      waiting.writeHead(200, { 'Content-Type': 'text/plain' });
      waiting.end('released\n');
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(`released ${count}\n`);
    return;
  }
  held.push(res);
}
