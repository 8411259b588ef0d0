// The `data:` events of an OpenAI-style SSE response body, parsed, in order
// ("[DONE]" ends the stream and is not yielded). Shared by the comparison
// scripts in this folder.
export async function* sseEvents(res) {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, {stream: true});
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 2);
      if (!event.startsWith("data: ") || event === "data: [DONE]") continue;
      yield JSON.parse(event.slice(6));
    }
  }
}
