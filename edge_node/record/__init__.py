"""Recording: VODs of ended broadcasts, clips, thumbnails; copies and retention.

Pure parts (bytes or data in, data out):
    manifest      the packager's playlists when a stream ended (`VodManifest`)
    playlists     VOD master and media playlist text
    journal       the steps of making a VOD, and which are done
    clip_range    which segments a clip needs and where it starts

Blocking parts (PyAV and the filesystem; run in worker threads):
    build         one function per journal step; the VOD directory layout
    runs          segments that share an init, and reading them as one file
    remux         fMP4 segments -> one faststart MP4: tables from the moofs, media
                  copied by the kernel, nothing demuxed or re-encoded
    clip_cut      a clip: whole GOPs copied, the first partial GOP re-encoded
    thumbnails    poster, sprite sheets + WebVTT track, live stills

Trio shells:
    recorder      ended stream -> VOD, resumed after a crash, reported once
    clipper       `CutClip` -> MP4 under <vod_root>/clips/ -> `ClipDone`
    stills        a JPEG of each live stream every 10 s
    keeper        retention sweeper, copies from other nodes, deletion
    locate        where a VOD this node lacks lives (asked of the control plane)
    fleet_calls   the RecordVod / LocateVod / ClipDone RPCs
    service       `NodeRecording`: all of the above as the node builds and runs it

Where VODs live. A VOD is named by its stream id and made on the stream's origin,
under `<state_dir>/vod/<id>/`. The origin reports it (`RecordVod`); the control
plane asks the shield of the origin's region to copy it (`ReplicateVod`), and the
shield reports its copy the same way. A node asked for `/vod/<id>/...` that does not
hold it asks the control plane (`LocateVod`: copies first, then the origin; never
itself) and pulls it through its `Upstream` with the same collapsing and segment
cache as live objects (cache key `vod/<id>/...`); every VOD object is immutable.
Retention (per channel, default 60 days) is kept by the control plane, which tells
every holder the expiry (`RecordVodResponse.expires_at`, `VodRetention` on changes);
each holder's sweeper deletes what has expired.
"""
