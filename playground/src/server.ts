// The entry. It has no import.meta.hot code: when a module without an accepting importer
// changes (routes.ts), devhot re-executes this file and hands the listening socket to the new
// server, so the port never closes.
import express from 'express';
import { apiRoutes } from './routes.js';
import { renderPage } from './page.js';
import { startCleanup } from './cleanup.js';

const port = Number(process.env.PORT ?? 3000);
const app = express();
app.use(express.json());
app.use(express.static(new URL('../public', import.meta.url).pathname));
app.use('/api', apiRoutes());
app.get('/', (_req, res) => {
  res.type('html').send(renderPage());
});

startCleanup();
app.listen(port, () => {
  // Shown once per start; an entry re-execution prints it again with the same port.
  process.stdout.write(`playground listening on http://localhost:${port}/\n`);
});
