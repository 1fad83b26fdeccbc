// An app in front of a resource of limited capacity (scripts/bench/capacity-resource.ts): each
// request calls it once over a keep-alive connection; ?port= names the resource.
import { Agent, get } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

export default function capacityApp(req, res) {
  const port = new URL(req.url, 'http://x').searchParams.get('port');
  get({ host: '127.0.0.1', port: Number(port), path: '/', agent }, (upstream) => {
    upstream.resume();
    upstream.on('end', () => res.end('done\n'));
  }).on('error', (err) => {
    res.statusCode = 502;
    res.end(`${err.message}\n`);
  });
}
