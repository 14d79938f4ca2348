chmod 0600 ctx/sub/s.txt
ln -s file.txt ctx/link
