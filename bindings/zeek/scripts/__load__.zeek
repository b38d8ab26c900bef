# Loaded with the plugin into every Zeek process: deliberately empty. The
# agent starts only with `zeek -j ZeekMgmt/Agent` (ZeekMgmt/Agent/__load__.zeek).
