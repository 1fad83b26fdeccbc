/** The hello world as an Express 5 app: what the framework costs on top of the plain listener. */
import express from 'express';

const app = express();
app.get('/', (req, res) => {
  res.type('text/plain').send('Hello, world!\n');
});

export default app;
