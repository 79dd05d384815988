// TeX -> SVG at build time (book/_ext/course_site.py runs this once per build).
// Reads one JSON request per line on stdin: {"formulas": [[tex, display], ...]} — all
// the math of one page — and writes one JSON line: {"svgs": [...], "defs": "<svg>…",
// "errors": [...]}. Glyph shapes are shared per page (fontCache "global"): each formula
// refers to them, and `defs` holds them once. Each formula carries hidden MathML, so
// screen readers read the math itself, not its TeX source.
const readline = require("readline");
const { mathjax } = require("mathjax-full/js/mathjax.js");
const { TeX } = require("mathjax-full/js/input/tex.js");
const { SVG } = require("mathjax-full/js/output/svg.js");
const { liteAdaptor } = require("mathjax-full/js/adaptors/liteAdaptor.js");
const { RegisterHTMLHandler } = require("mathjax-full/js/handlers/html.js");
const { AssistiveMmlHandler } = require("mathjax-full/js/a11y/assistive-mml.js");
const { AllPackages } = require("mathjax-full/js/input/tex/AllPackages.js");

const adaptor = liteAdaptor();
AssistiveMmlHandler(RegisterHTMLHandler(adaptor));

function renderPage(formulas) {
  const errors = [];
  const tex = new TeX({
    packages: AllPackages.filter((p) => p !== "bussproofs"),
    formatError: (jax, err) => {
      throw err;
    },
  });
  const svg = new SVG({ fontCache: "global" });
  const doc = mathjax.document("", { InputJax: tex, OutputJax: svg });
  const svgs = formulas.map(([source, display], i) => {
    try {
      return adaptor.outerHTML(doc.convert(source, { display }));
    } catch (err) {
      errors.push(`formula ${i}: ${err.message} in: ${source}`);
      return "";
    }
  });
  const cache = svg.fontCache.getCache();
  return {
    svgs,
    defs: cache ? adaptor.outerHTML(cache) : "",
    css: adaptor.textContent(svg.styleSheet(doc)),
    errors,
  };
}

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const request = JSON.parse(line);
  process.stdout.write(JSON.stringify(renderPage(request.formulas)) + "\n");
});
