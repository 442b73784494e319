// hide removes the elements matching any of selectors from the picture and
// the layout: an inline display:none !important on those present, which no
// stylesheet rule can beat, and a style rule for those added later.
(selectors => {
  const s = document.createElement("style");
  s.textContent = selectors.join(",\n") + " { display: none !important; }";
  (document.head || document.documentElement).appendChild(s);
  let n = 0;
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      el.style.setProperty("display", "none", "important");
      n++;
    }
  }
  return n;
})
