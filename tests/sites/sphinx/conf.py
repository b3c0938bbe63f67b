project = "snipbox on Sphinx"
html_theme = "furo"
html_js_files = [("https://HOST/widget/snipbox.js?selector=pre", {"type": "module"})]
