// In-memory state. No module above it changes when you edit routes.ts, so devhot never
// re-executes it and the visits and notes survive your edits.
export interface Note {
  id: number;
  text: string;
  at: string;
}

let visits = 0;
const notes: Note[] = [];

export function countVisit(): number {
  return ++visits;
}

export function addNote(text: string): Note {
  const note = { id: notes.length + 1, text, at: new Date().toISOString() };
  notes.push(note);
  return note;
}

export function listNotes(): readonly Note[] {
  return notes;
}
