/**
 * The hello world every Node target serves: a plain (req, res) listener with a fixed 14-byte
 * text/plain body and a Content-Length, so node:http sends no chunked framing either.
 */
const BODY = 'Hello, world!\n';

export default function hello(req, res) {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
  res.end(BODY);
}
