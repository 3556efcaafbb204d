"""Read config files with the real oslo.config, for the differential test.

stdin: {"options": [{"group", "name", "kind", "default", "choices", "min",
"deprecated": [[group, name]...]}...], "files": [path...]}
stdout: {"<group>.<name>": value | {"error": message}} or {"load_error": msg}
"""
import json
import sys

from oslo_config import cfg

KINDS = {"str": cfg.StrOpt, "int": cfg.IntOpt, "float": cfg.FloatOpt,
         "bool": cfg.BoolOpt, "list": cfg.ListOpt}


def main():
    spec = json.load(sys.stdin)
    conf = cfg.ConfigOpts()
    for o in spec["options"]:
        kw = {"default": o["default"]}
        if o.get("choices"):
            kw["choices"] = o["choices"]
        if o.get("min") is not None:
            kw["min"] = o["min"]
        if o.get("deprecated"):
            kw["deprecated_opts"] = [
                cfg.DeprecatedOpt(n, group=g) for g, n in o["deprecated"]]
        group = None if o["group"] == "DEFAULT" else o["group"]
        conf.register_opt(KINDS[o["kind"]](o["name"], **kw), group=group)
    args = []
    for f in spec["files"]:
        args += ["--config-file", f]
    try:
        conf(args=args, project="qdhcp-test", default_config_files=[])
    except Exception as e:  # parse errors, missing files
        json.dump({"load_error": "%s: %s" % (type(e).__name__, e)}, sys.stdout)
        return
    out = {}
    for o in spec["options"]:
        try:
            if o["group"] == "DEFAULT":
                v = getattr(conf, o["name"])
            else:
                v = getattr(getattr(conf, o["group"]), o["name"])
        except Exception as e:
            v = {"error": "%s: %s" % (type(e).__name__, e)}
        out[o["group"] + "." + o["name"]] = v
    json.dump(out, sys.stdout)


main()
