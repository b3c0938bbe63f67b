import { defineConfig } from "astro/config";
import starlight from "@astrojs/starlight";

export default defineConfig({
  integrations: [
    starlight({
      title: "snipbox on Starlight",
      head: [{ tag: "script", attrs: { type: "module", src: "https://HOST/widget/snipbox.js?selector=pre" } }],
    }),
  ],
});
