// Renders templates with handlebars.js, the reference implementation, for
// the differential test of Tidings' Handlebars renderer
// (internal/templates/handlebars/reference_test.go). Reads a JSON array of
// {tpl, data, html} from stdin; writes an array of {out} or {err}.
import Handlebars from "handlebars";

// {{log}} writes with console.log: keep stdout for the results.
console.log = console.info = console.debug = console.warn = console.error;

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map(({ tpl, data, html }) => {
  try {
    const render = Handlebars.compile(tpl, { noEscape: !html });
    return { out: render(JSON.parse(data)) };
  } catch (e) {
    return { err: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
