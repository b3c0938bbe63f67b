export default {
  title: "snipbox on Docusaurus",
  url: "http://localhost",
  baseUrl: "/",
  presets: [["classic", { docs: { routeBasePath: "/" }, blog: false }]],
  scripts: [{ src: "https://HOST/widget/snipbox.js?selector=pre", type: "module" }],
};
