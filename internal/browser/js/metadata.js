// metadata reads what the page tells about itself: its title, description,
// Open Graph properties and height. With markFonts it also marks (up to
// 300) visible elements that hold text, for the browser to say which fonts
// drew them; the capture is taken by then, so the marks change nothing in
// it.
(markFonts => {
  const metaContent = name => {
    for (const el of document.querySelectorAll("meta[name]")) {
      if (el.getAttribute("name").toLowerCase() === name && el.content) return el.content;
    }
    return "";
  };
  const og = {};
  for (const el of document.querySelectorAll("meta[property], meta[name]")) {
    const prop = (el.getAttribute("property") || el.getAttribute("name") || "").toLowerCase();
    if (!prop.startsWith("og:") || !el.content) continue;
    const key = prop.slice(3);
    if (!(key in og)) og[key] = el.content;
  }
  if (markFonts && document.body) {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const marked = new Set();
    while (walker.nextNode() && marked.size < 300) {
      const el = walker.currentNode.parentElement;
      if (!el || marked.has(el) || !walker.currentNode.nodeValue.trim()) continue;
      if (["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(el.tagName)) continue;
      const st = getComputedStyle(el);
      if (st.display === "none" || st.visibility !== "visible") continue;
      el.setAttribute("data-pageshot-font", "");
      marked.add(el);
    }
  }
  const de = document.documentElement;
  return {
    title: document.title || "",
    description: metaContent("description") || og.description || "",
    openGraph: og,
    pageHeight: Math.ceil(Math.max(de ? de.scrollHeight : 0, document.body ? document.body.scrollHeight : 0)),
  };
})
