// The HTML page. Edit the markup and save: the entry re-executes and the next load shows it.
export function renderPage(): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>devhot playground</title>
    <link rel="stylesheet" href="/style.css" />
  </head>
  <body>
    <h1>devhot playground</h1>
    <p id="message">loading…</p>
    <script type="module">
      const res = await fetch('/api/hello');
      const body = await res.json();
      document.getElementById('message').textContent = body.message + ' (visit ' + body.visits + ')';
    </script>
  </body>
</html>`;
}
