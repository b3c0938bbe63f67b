# The first steps of every sandbox, written once: `snipbox images` puts
# this text where a sandbox's Dockerfile says `# snipbox: preamble.Dockerfile`
# (right after its FROM). The same steps in every image: Docker builds them
# once. They make the user programs run as (UID 1000) and its work dir, a
# tmpfs at run time that takes this folder's mode; packages without docs,
# man pages, translations or apt caches (as in Debian's slim images,
# whatever the base; man1 stays, empty, for the links update-alternatives
# makes); a UTF-8 locale.
RUN useradd --uid 1000 --user-group --no-create-home --home-dir /sandbox sandbox \
 && mkdir -m 1777 /sandbox \
 && printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      > /etc/dpkg/dpkg.cfg.d/snipbox-slim \
 && printf '%s\n' 'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' 'APT::Keep-Downloaded-Packages "false";' \
      > /etc/apt/apt.conf.d/snipbox-slim \
 && mkdir -p /usr/share/man/man1
ENV LANG=C.UTF-8
