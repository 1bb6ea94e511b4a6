// Edit a response here and save: devhot re-executes this module and the entry (the terminal
// says "entry re-executed: src/routes.ts has no accepting importer"); store.ts keeps its state.
import { Router } from 'express';
import { addNote, countVisit, listNotes } from './store.js';
import { greeting } from './greeting.js';

export function apiRoutes(): Router {
  const router = Router();
  router.get('/hello', (_req, res) => {
    res.json({ message: greeting(), visits: countVisit() });
  });
  router.get('/notes', (_req, res) => {
    res.json(listNotes());
  });
  router.post('/notes', (req, res) => {
    const text = typeof req.body?.text === 'string' ? req.body.text : '';
    if (!text) {
      res.status(400).json({ error: 'send {"text": "..."}' });
      return;
    }
    res.status(201).json(addNote(text));
  });
  return router;
}
