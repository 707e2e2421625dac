// sddr: show under Refine Depth / Refine External Depth the sizes sddr actually used
// (low pass, high pass, output), which the nodes send as their UI "text" output.
import { app } from "../../scripts/app.js";

const NODES = new Set(["SddrRefineDepth", "SddrRefineExternalDepth"]);
const WIDGET = "sddr_sizes";

app.registerExtension({
  name: "sddr.RefineSizes",
  beforeRegisterNodeDef(nodeType, nodeData) {
    if (!NODES.has(nodeData.name)) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text?.[0];
      if (text == null) return;
      let widget = this.widgets?.find((w) => w.name === WIDGET);
      if (!widget) {
        widget = this.addWidget("text", WIDGET, "", () => {}, { serialize: false });
        widget.label = "sizes used";
        widget.serialize = false; // never saved into the workflow's widgets_values
        widget.disabled = true;
      }
      widget.value = String(text);
      this.setSize([this.size[0], Math.max(this.size[1], this.computeSize()[1])]);
      this.setDirtyCanvas(true, true);
    };
  },
});
