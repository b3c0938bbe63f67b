// snipbox: <script type="module" src="https://HOST/widget/snipbox.js"></script>
// turns the page's marked code blocks into runnable snippets. The code runs
// on HOST unless the tag says otherwise (data-server="https://…") or the page
// sets window.SNIPBOX_SERVER. A page can also enable every block a selector
// matches, reading the sandbox from a language-* class:
//   window.SNIPBOX = { selector: "pre > code[class*=language-]", languages: { py: "python" } }
import init, { mount } from "./snipbox_widget.js";

const here = new URL(import.meta.url);
const tag = [...document.querySelectorAll("script[src]")].find((s) => s.src === here.href);
const server = tag?.dataset.server || window.SNIPBOX_SERVER || here.origin;
const page = window.SNIPBOX || {};
// When done it fires `snipbox:mounted` on the document, detail { count }.
const start = () => {
  const count = mount(server, page.selector || "", page.languages || {});
  document.dispatchEvent(new CustomEvent("snipbox:mounted", { detail: { count } }));
};

const css = document.createElement("link");
css.rel = "stylesheet";
css.href = new URL("snipbox.css", here).href;
document.head.append(css);

await init({ module_or_path: new URL("snipbox_widget_bg.wasm", here) });
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
