// unobscure hides the fixed and sticky elements that could be painted over
// the first element matching sel (a site's header, a chat button, a cookie
// bar): every one that is neither the element, inside it, nor around it.
// Their space in the layout is kept.
(sel => {
  const target = document.querySelector(sel);
  if (!target) return 0;
  let n = 0;
  for (const el of document.querySelectorAll("body *")) {
    if (el === target || el.contains(target) || target.contains(el)) continue;
    const pos = getComputedStyle(el).position;
    if (pos === "fixed" || pos === "sticky") {
      el.style.setProperty("visibility", "hidden", "important");
      n++;
    }
  }
  return n;
})
