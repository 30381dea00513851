fetch('/api/hello')
  .then((r) => r.json())
  .then((body) => {
    document.getElementById('greeting').textContent = `hello, ${body.hello} (version ${body.version})`;
  })
  .catch(() => {
    document.getElementById('greeting').textContent = 'the backend did not answer';
  });
