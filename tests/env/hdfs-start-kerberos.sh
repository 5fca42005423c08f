#!/usr/bin/env bash
# usage: hdfs-start-kerberos.sh JARDIR NN_PORT KRB5_CONF KEYTAB REALM [HTTP_KEYTAB] -> prints WORKDIR
# A Kerberized Hadoop 2.7.3 NameNode + DataNode on 127.0.0.1:NN_PORT
# (hadoop.security.authentication=kerberos, block access tokens on). Both run as hdfs/localhost
# of REALM, whose key is in KEYTAB (the superuser: short name hdfs); HTTP_KEYTAB (default KEYTAB)
# holds HTTP/localhost for the web servers' SPNEGO. The KDC is the caller's
# (tests/support/kerberos.rs).
# A secure DataNode needs privileged ports (and jsvc) or SASL data transfer protection with
# HTTPS: this is the second, as a production cluster without root would run it —
# dfs.data.transfer.protection=authentication, dfs.http.policy=HTTPS_ONLY with a keystore made
# here by the JDK's keytool. Stop with hdfs-stop.sh WORKDIR.
set -euo pipefail
JARS=${1:?jar dir}; PORT=${2:?port}; KRB5=${3:?krb5.conf}; KEYTAB=${4:?keytab}; REALM=${5:?realm}
HTTP_KEYTAB=${6:-$KEYTAB}
W=$(mktemp -d "${TMPDIR:-/tmp}/hdfs-kerberos.XXXXXX")
mkdir -p "$W/conf/webapps/hdfs" "$W/conf/webapps/datanode" "$W/conf/webapps/secondary" "$W/name" "$W/data" "$W/logs"
cat > "$W/conf/core-site.xml" <<X
<configuration>
 <property><name>fs.defaultFS</name><value>hdfs://127.0.0.1:$PORT</value></property>
 <property><name>hadoop.tmp.dir</name><value>$W/tmp</value></property>
 <property><name>hadoop.security.authentication</name><value>kerberos</value></property>
 <property><name>hadoop.security.authorization</name><value>true</value></property>
 <property><name>hadoop.rpc.protection</name><value>authentication</value></property>
 <property><name>hadoop.security.auth_to_local</name><value>RULE:[1:\$1] RULE:[2:\$1] DEFAULT</value></property>
</configuration>
X
cat > "$W/conf/hdfs-site.xml" <<X
<configuration>
 <property><name>dfs.namenode.rpc-address</name><value>127.0.0.1:$PORT</value></property>
 <property><name>dfs.namenode.http-address</name><value>127.0.0.1:0</value></property>
 <property><name>dfs.namenode.name.dir</name><value>file://$W/name</value></property>
 <property><name>dfs.datanode.data.dir</name><value>file://$W/data</value></property>
 <property><name>dfs.datanode.address</name><value>127.0.0.1:0</value></property>
 <property><name>dfs.datanode.http.address</name><value>127.0.0.1:0</value></property>
 <property><name>dfs.datanode.ipc.address</name><value>127.0.0.1:0</value></property>
 <property><name>dfs.replication</name><value>1</value></property>
 <property><name>dfs.blocksize</name><value>1048576</value></property>
 <property><name>dfs.webhdfs.enabled</name><value>false</value></property>
 <property><name>dfs.permissions.enabled</name><value>true</value></property>
 <property><name>dfs.namenode.fs-limits.min-block-size</name><value>4096</value></property>
 <property><name>dfs.namenode.safemode.extension</name><value>0</value></property>
 <property><name>dfs.namenode.datanode.registration.ip-hostname-check</name><value>false</value></property>
 <property><name>dfs.heartbeat.interval</name><value>1</value></property>
 <property><name>dfs.block.access.token.enable</name><value>true</value></property>
 <property><name>dfs.namenode.kerberos.principal</name><value>hdfs/localhost@$REALM</value></property>
 <property><name>dfs.namenode.keytab.file</name><value>$KEYTAB</value></property>
 <property><name>dfs.datanode.kerberos.principal</name><value>hdfs/localhost@$REALM</value></property>
 <property><name>dfs.datanode.keytab.file</name><value>$KEYTAB</value></property>
 <property><name>dfs.web.authentication.kerberos.principal</name><value>HTTP/localhost@$REALM</value></property>
 <property><name>dfs.web.authentication.kerberos.keytab</name><value>$HTTP_KEYTAB</value></property>
 <property><name>dfs.data.transfer.protection</name><value>authentication</value></property>
 <property><name>dfs.http.policy</name><value>HTTPS_ONLY</value></property>
 <property><name>dfs.namenode.https-address</name><value>127.0.0.1:0</value></property>
 <property><name>dfs.datanode.https.address</name><value>127.0.0.1:0</value></property>
</configuration>
X
keytool -genkeypair -alias localhost -keyalg RSA -keysize 2048 -dname "CN=localhost" -validity 30 \
  -keystore "$W/conf/keystore.jks" -storepass c2k-test -keypass c2k-test -noprompt >/dev/null 2>&1
cat > "$W/conf/ssl-server.xml" <<X
<configuration>
 <property><name>ssl.server.keystore.location</name><value>$W/conf/keystore.jks</value></property>
 <property><name>ssl.server.keystore.password</name><value>c2k-test</value></property>
 <property><name>ssl.server.keystore.keypassword</name><value>c2k-test</value></property>
 <property><name>ssl.server.truststore.location</name><value>$W/conf/keystore.jks</value></property>
 <property><name>ssl.server.truststore.password</name><value>c2k-test</value></property>
</configuration>
X
cat > "$W/conf/log4j.properties" <<X
log4j.rootLogger=INFO,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{HH:mm:ss,SSS} %p %c{1}: %m%n
X
CP="$W/conf:$JARS/*"
# Hadoop 2.7 reads the default realm through sun.security.krb5, closed by default since Java 16.
JOPTS="-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true \
 -Dhadoop.log.dir=$W/logs -Djava.security.krb5.conf=$KRB5 \
 --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED \
 --add-opens=java.security.jgss/sun.security.krb5=ALL-UNNAMED"
echo "$JOPTS" > "$W/jopts"
java $JOPTS -cp "$CP" org.apache.hadoop.hdfs.server.namenode.NameNode -format -force -nonInteractive >"$W/logs/format.log" 2>&1
java $JOPTS -cp "$CP" org.apache.hadoop.hdfs.server.namenode.NameNode >"$W/logs/nn.log" 2>&1 </dev/null & echo $! >"$W/nn.pid"
java $JOPTS -cp "$CP" org.apache.hadoop.hdfs.server.datanode.DataNode >"$W/logs/dn.log" 2>&1 </dev/null & echo $! >"$W/dn.pid"
for i in $(seq 1 300); do   # wait up to 60s for the DataNode's first block report
  if grep -q "Successfully sent block report" "$W/logs/dn.log" 2>/dev/null; then echo "$W"; exit 0; fi
  kill -0 "$(cat "$W/nn.pid")" 2>/dev/null && kill -0 "$(cat "$W/dn.pid")" 2>/dev/null || break
  sleep 0.2
done
echo "HDFS failed to start; logs in $W/logs" >&2; tail -n 20 "$W/logs/nn.log" "$W/logs/dn.log" >&2; exit 1
