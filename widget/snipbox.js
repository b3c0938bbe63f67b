// snipbox: <script type="module" src="https://HOST/widget/snipbox.js"></script>
// turns the page's marked code blocks into runnable snippets. The code runs
// on HOST unless the tag says otherwise (data-server="https://…") or the page
// sets window.SNIPBOX_SERVER. Page-wide mode enables every block a selector
// matches whose language has a sandbox on the server (a name or an alias it
// lists), or one the page maps:
//   window.SNIPBOX = { selector: "pre", languages: { py3: "python" } }
// (or data-selector="pre" on the tag, or snipbox.js?selector=pre).
// The wasm finds the blocks (find(): the rules `snipbox verify` applies to
// the built pages), each one is given a host here and handed to its
// mount(); blocks added later are enhanced as they appear, and snippets
// taken off the page are dropped with their runs (sweep()). When the page's
// blocks are mounted it fires `snipbox:mounted` on the document, detail
// { count }, and again whenever blocks added later are. Its words follow
// the page's language (data-lang on the tag, else <html lang>) where the
// widget has them (i18n/LANG.json, fetched only then), else English;
// window.SNIPBOX.strings overrides any of them by key.
import init, { find, mount, strings, sweep } from "./snipbox_widget.js";

const here = new URL(import.meta.url);
const tag = [...document.querySelectorAll("script[src]")].find((s) => s.src === here.href);
const page = window.SNIPBOX || {};
const server = tag?.dataset.server || window.SNIPBOX_SERVER || here.origin;
const selector = page.selector || tag?.dataset.selector || here.searchParams.get("selector");
const languages = page.languages || {};

// Every sandbox's name and aliases, for page-wide mode (null if the server
// lists none, as codapi does not: then the language is the sandbox).
const names =
  selector &&
  fetch(server.replace(/\/$/, "") + "/v1/sandboxes")
    .then((r) => r.json())
    .then((list) => list.flatMap((s) => [s.name, ...(s.aliases || [])].map((n) => [n, s.name])))
    .catch(() => null);
let sandboxes;

// The page's language, as one the widget has words for, or none (English).
// Chinese is Simplified Chinese's: zh, zh-CN, zh-SG, zh-Hans.
const lang = (() => {
  const asked = (tag?.dataset.lang || document.documentElement.lang || "").toLowerCase();
  const primary = asked.split("-")[0];
  if (primary === "zh") return /^zh(-(cn|sg|hans)(-.*)?)?$/.test(asked) ? "zh-CN" : null;
  return ["de", "es", "fr", "ja", "pt"].includes(primary) ? primary : null;
})();
const words = lang
  ? fetch(new URL(`i18n/${lang}.json`, here))
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({}))
  : {};

// The page's own highlighter, if it has one (highlight.js, old or new,
// or Prism): the new code as markup, or undefined.
const highlight = (code, lang) => {
  const { hljs, Prism } = window;
  try {
    if (hljs?.getLanguage(lang)) {
      try {
        return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
      } catch {
        return hljs.highlight(lang, code, true).value;
      }
    }
    const grammar = Prism?.languages[lang];
    if (grammar) return Prism.highlight(code, grammar, lang);
  } catch {}
};

// Each snippet's element (not a snip-box's) → its block's pre and code,
// the code's markup and text, its language, and whether it is highlighted
// (then shown as drawn until the reader edits); and each pre → its snippet.
const views = new WeakMap();
const hosts = new WeakMap();
const seen = new WeakSet();

const show = (host, view) => {
  host.classList.toggle("snipbox-view", view);
  views.get(host).pre.classList.toggle("snipbox-hidden", !view);
};

// Enhances the blocks not seen yet; how many it mounted.
const scan = () => {
  let count = 0;
  for (const [el, pre, code, lang, sandbox, source] of find(selector, Object.entries(languages), sandboxes)) {
    if (seen.has(pre)) continue;
    seen.add(pre);
    let host = el;
    if (el.tagName === "SNIP-BOX") {
      el.textContent = "";
    } else {
      host = document.createElement("div");
      pre.after(host);
    }
    host.classList.add("snipbox-host");
    if (!mount(server, el, host, sandbox, source)) {
      if (host === el) el.textContent = source;
      else host.remove();
      continue;
    }
    count++;
    if (host === el) continue;
    // Highlighted markup is shown until the reader edits (focus on it, so
    // it is made focusable, opens the editor); plain text is the editor,
    // which then stands for the block and takes its id (links, depends-on).
    const styled = !!code.querySelector(":not(br)");
    const named = !styled && [el, pre, code].find((e) => e.id);
    if (named) {
      host.id = named.id;
      named.removeAttribute("id");
    }
    views.set(host, { pre, code, html: code.innerHTML, source, lang, styled });
    hosts.set(pre, host);
    if (styled && !pre.hasAttribute("tabindex")) pre.tabIndex = 0;
    show(host, styled);
  }
  return count;
};

// Focus on a kept block opens its editor; leaving the editor shows the
// block again, as drawn if the code is unchanged, else through the page's
// highlighter if it has one; Reset shows the block as drawn.
document.addEventListener("focusin", (e) => {
  const host = !e.target.closest("button,a") && hosts.get(e.target.closest("pre"));
  const area = host?.querySelector("textarea");
  if (area && host.classList.contains("snipbox-view")) {
    show(host, false);
    area.focus();
  }
});
const restore = (host, code) => {
  const view = views.get(host);
  const html = code === view.source ? view.html : highlight(code, view.lang);
  if (html === undefined || !view.styled) return;
  if (view.code.innerHTML !== html) view.code.innerHTML = html;
  show(host, true);
};
document.addEventListener("focusout", (e) => {
  const host = e.target.tagName === "TEXTAREA" && e.target.closest(".snipbox-host");
  if (host && views.has(host)) restore(host, e.target.value);
});
document.addEventListener("click", (e) => {
  const host = e.target.closest(".snipbox-reset")?.closest(".snipbox-host");
  if (host && views.has(host)) restore(host, views.get(host).source);
});

const css = document.createElement("link");
css.rel = "stylesheet";
css.href = new URL("snipbox.css", here).href;
document.head.append(css);

let table;
[sandboxes, , table] = await Promise.all([names, init({ module_or_path: new URL("snipbox_widget_bg.wasm", here) }), words]);
strings({ ...table, ...page.strings });
if (document.readyState === "loading") await new Promise((done) => document.addEventListener("DOMContentLoaded", done));
const mounted = (count) => document.dispatchEvent(new CustomEvent("snipbox:mounted", { detail: { count } }));
mounted(scan());
// Pages that change after load (client-side navigation, content loaded by
// script): new blocks are enhanced, snippets taken off the page dropped.
// Changes inside snippets are their own.
new MutationObserver((records) => {
  let added, removed;
  for (const r of records) {
    if (r.target.closest(".snipbox-host")) continue;
    removed ||= r.removedNodes.length > 0;
    added ||= [...r.addedNodes].some((n) => n.nodeType === 1);
  }
  if (removed) sweep();
  const count = added ? scan() : 0;
  if (count) mounted(count);
}).observe(document.body, { childList: true, subtree: true });
