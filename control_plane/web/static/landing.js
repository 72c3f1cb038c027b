// The landing page: live channels from discovery, busiest first.
"use strict";

async function loadStreams() {
  const list = document.getElementById("streams");
  const empty = document.getElementById("empty");
  let page;
  try {
    const response = await fetch("/api/v1/streams?sort=viewers_desc&limit=50");
    if (!response.ok) throw new Error(`discovery answered ${response.status}`);
    page = await response.json();
  } catch (error) {
    empty.textContent = `Could not load live channels: ${error.message}`;
    empty.hidden = false;
    return;
  }
  const streams = page.streams || [];
  list.replaceChildren(...streams.map(streamItem));
  empty.hidden = streams.length > 0;
}

function streamItem(stream) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = `/watch/${encodeURIComponent(stream.channel)}`;
  const title = document.createElement("strong");
  title.textContent = stream.title || stream.channel;
  const meta = document.createElement("span");
  const category = stream.category ? ` · ${stream.category}` : "";
  meta.textContent = `${stream.channel}${category} · ${stream.viewer_count ?? 0} watching`;
  link.append(title, meta);
  item.append(link);
  return item;
}

loadStreams();
setInterval(loadStreams, 15000);
