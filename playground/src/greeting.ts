// This module accepts its own updates: edit the text and save, and only this module
// re-executes ("hot update src/greeting.ts (1 module)"). Importers call greeting() through
// devhot's live binding, so they get the new function without being re-executed.
export function greeting(): string {
  return 'Hello from devhot';
}

if (import.meta.hot) {
  import.meta.hot.accept();
}
