"""A Triton Python-backend model running one paracolor network with onnxruntime.

``paracolor triton-repo --platform python`` copies this file to ``<model>/1/model.py`` beside the
graph. It runs inside Triton's Python-backend stub, so it imports only numpy, onnxruntime and
Triton's own utilities (not paracolor). The model config names the graph (parameter ``graph``),
the inputs and the outputs.
"""

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        import onnxruntime as ort

        config = json.loads(args["model_config"])
        graph = config["parameters"]["graph"]["string_value"]
        path = os.path.join(args["model_repository"], args["model_version"], graph)
        opts = ort.SessionOptions()
        opts.inter_op_num_threads = 1
        # stubs of fg and bg run at once on the same cores: an idle pool must not spin
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
        self.inputs = [i["name"] for i in config["input"]]
        self.outputs = [o["name"] for o in config["output"]]
        self.types = {o["name"]: pb_utils.triton_string_to_numpy(o["data_type"]) for o in config["output"]}

    def execute(self, requests):
        # one onnxruntime run over every request the dynamic batcher grouped
        feeds = {name: [] for name in self.inputs}
        counts = []
        for request in requests:
            for name in self.inputs:
                feeds[name].append(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
            counts.append(len(feeds[self.inputs[0]][-1]))
        try:
            outs = self.session.run(self.outputs, {name: np.concatenate(parts) for name, parts in feeds.items()})
        except Exception as exc:  # the whole run failed: every request of it gets the reason
            return [pb_utils.InferenceResponse(output_tensors=[], error=pb_utils.TritonError(f"{type(exc).__name__}: {exc}")) for _ in requests]
        responses, start = [], 0
        for n in counts:
            tensors = [pb_utils.Tensor(name, np.ascontiguousarray(out[start : start + n], dtype=self.types[name])) for name, out in zip(self.outputs, outs)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += n
        return responses
