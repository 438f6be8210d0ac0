import { useState } from 'preact/hooks';

/** Asks for an API key; it is kept for this browser tab only (sessionStorage). */
export function KeyForm({ message, onKey }: { message: string; onKey: (key: string) => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="key-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim()) onKey(value.trim());
      }}
    >
      <h1>energy-pipeline</h1>
      <p>{message}</p>
      <label>
        API key
        <input type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Open the dashboard</button>
      <p class="hint">The key stays in this tab only and is sent as an Authorization header, never in a URL.</p>
    </form>
  );
}
