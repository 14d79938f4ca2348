# What git cannot keep: hard and dangling links, a 0750 directory, tars.
ln ctx/a.txt ctx/a-hard.txt
ln -s nested/b.txt ctx/b-link
ln -s ../dangling ctx/dangling-link
chmod 0750 ctx/nested
chmod 0755 ctx/nested/inner/c.sh
mkdir -p tarsrc/pkg/bin
echo t >tarsrc/pkg/bin/t
chmod 0755 tarsrc/pkg/bin/t
echo r >tarsrc/pkg/README
ln -s bin/t tarsrc/pkg/t-link
tar --owner=42 --group=43 --numeric-owner --mtime=@1600000000 --sort=name -C tarsrc -czf bundle.tar.gz pkg
tar --owner=0 --group=0 --numeric-owner --mtime=@1600000000 --sort=name -C tarsrc -cf plain.tar pkg
rm -rf tarsrc
