// Runs one agent through fanout-web's AG-UI endpoint with the official client (@ag-ui/client's
// HttpAgent), and checks every event the server sent against @ag-ui/core's schemas.
//
//   node agui_run.mjs <url> <threadId> <runId> <prompt>
//
// Prints one JSON line: the events the agent applied, the raw events on the wire, what failed
// schema validation (must be nothing), the client's warnings (must be none: it warns when it
// strips or drops what it does not recognise), the messages and state it assembled, and the
// run's outcome.
import { HttpAgent } from "@ag-ui/client";
import { EventSchemas } from "@ag-ui/core/schemas";

const [url, threadId, runId, prompt] = process.argv.slice(2);

const warnings = [];
for (const level of ["warn", "error"]) {
  console[level] = (...args) => warnings.push(`${level}: ${args.map(String).join(" ")}`);
}

// The raw SSE body, read beside the client (a tee of the same response).
const wire = [];
let wireDone;
const wireRead = new Promise((resolve) => (wireDone = resolve));
const teeFetch = async (input, init) => {
  const response = await fetch(input, init);
  const copy = response.clone();
  copy.text().then((text) => {
    for (const block of text.split("\n\n")) {
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).replace(/^ /, ""))
        .join("\n");
      if (data) wire.push(JSON.parse(data));
    }
    wireDone();
  }, (err) => { warnings.push(`tee: ${err}`); wireDone(); });
  return response;
};

const agent = new HttpAgent({
  url,
  threadId,
  fetch: teeFetch,
  initialMessages: [{ id: "user-1", role: "user", content: prompt }],
});

const applied = [];
let outcome = "resolved";
let error = null;
try {
  await agent.runAgent(
    { runId },
    {
      onEvent({ event }) {
        applied.push(event);
      },
    },
  );
} catch (err) {
  outcome = "rejected";
  error = String(err && err.message ? err.message : err);
}
await wireRead;

const invalid = [];
for (const event of wire) {
  const checked = EventSchemas.safeParse(event);
  if (!checked.success) invalid.push({ event, error: checked.error.message });
}

console.log(JSON.stringify({
  outcome,
  error,
  applied: applied.map((e) => e.type),
  wire,
  invalid,
  warnings,
  messages: agent.messages,
  state: agent.state,
}));
