// Parses Mermaid files the way mermaid itself does (its own parser and, for gantt charts, its
// own task scheduler, which is where bad dates and durations surface), with no browser: the
// test suite checks that what `berth preview` writes renders. Prints one JSON line per file;
// exits 1 if any file fails.
import { JSDOM } from "jsdom";
import fs from "node:fs";

const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const mermaid = (await import("mermaid")).default;
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  const result = { file };
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(fs.readFileSync(file, "utf8"));
    result.type = diagram.type;
    if (diagram.type === "gantt") {
      const tasks = diagram.db.getTasks();
      result.tasks = tasks.map((t) => ({ name: t.task.trim(), start: +t.startTime, end: +t.endTime,
                                         crit: !!t.crit, active: !!t.active }));
      if (tasks.some((t) => isNaN(+t.startTime) || isNaN(+t.endTime) || +t.endTime < +t.startTime)) {
        throw new Error("a task has no valid start and end");
      }
    }
    result.ok = true;
  } catch (e) {
    failed += 1;
    result.ok = false;
    result.error = String((e && e.message) || e).slice(0, 500);
  }
  console.log(JSON.stringify(result));
}
process.exit(failed ? 1 : 0);
